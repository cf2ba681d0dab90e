"""The pages under their Content-Security-Policy (bot/headers.py) in headless Chromium: the
widget demo, sign-in, the agent console, the knowledge-base editor and the API docs work, and
the browser reports no violation; staff pages refuse to be framed, the demo page does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.staff.users import create_user
from tests.browser import serve, widget

pytestmark = pytest.mark.browser

KB_DIR = Path(__file__).resolve().parents[1] / "kb_docs"
EMAIL, PASSWORD = "root@example.com", "correct horse battery"
WAIT = 30_000
# Every violation the page meets, recorded before any of its own scripts run.
RECORD_VIOLATIONS = """
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("csp"),
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        handoff_threshold=0.0,  # the widget answers; its confidence is not what is tested
    )
    app = create_app(settings)
    with serve(app) as base_url:
        with session_scope(app.state.sessionmaker) as session:
            roles = ["admin", "agent", "editor"]
            create_user(session=session, email=EMAIL, name="Root", password=PASSWORD, roles=roles)
        yield base_url


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context()
    context.add_init_script(RECORD_VIOLATIONS)
    yield context
    context.close()


def _page(context: BrowserContext) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def _violations(page: Page) -> list[str]:
    return page.evaluate("window.__violations")


def test_the_widget_demo_answers_under_its_policy(context, site):
    page, errors = _page(context)
    page.goto(site + "/")
    widget(page).get_by_role("button", name="Open chat").click()
    box = widget(page).get_by_role("textbox", name="Type your message")
    box.fill("hello")
    box.press("Enter")  # over the socket (connect-src) the widget script (script-src) opened
    expect(widget(page).locator(".msg.bot[data-seq]")).to_have_count(1, timeout=WAIT)
    assert _violations(page) == [] and errors == []


def test_sign_in_console_and_editor_work_under_the_staff_policy(context, site):
    page, errors = _page(context)
    page.goto(site + "/agent")  # not signed in: the sign-in page, then back here
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(site + "/agent")
    expect(page.locator("#connection")).to_have_text("Connected.", timeout=WAIT)
    assert _violations(page) == []
    page.goto(site + "/kb/new")
    # A table column aligned right: markdown-it writes style="text-align: right".
    page.get_by_label("Markdown").fill("# Prices\n\n| plan | price |\n|---|---:|\n| Plus | 5 |")
    cell = page.locator("#kb-preview td").last
    expect(cell).to_have_text("5")
    assert cell.evaluate("el => getComputedStyle(el).textAlign") == "right"
    assert _violations(page) == [] and errors == []


def test_swagger_ui_starts_under_the_docs_policy(context, site):
    # Offline: jsDelivr is a stub that records how the page's inline script called it.
    stub = """
        window.SwaggerUIBundle = (config) => { window.__started = config.url; return {}; };
        SwaggerUIBundle.presets = {apis: {}};
        SwaggerUIBundle.SwaggerUIStandalonePreset = {};
    """
    context.route(
        "https://cdn.jsdelivr.net/**",
        lambda route: route.fulfill(
            body=stub if route.request.url.endswith(".js") else "",
            content_type="text/javascript" if route.request.url.endswith(".js") else "text/css",
        ),
    )
    context.route("https://fastapi.tiangolo.com/**", lambda route: route.fulfill(status=404))
    page, errors = _page(context)
    page.goto(site + "/docs")
    assert page.evaluate("window.__started") == "/openapi.json"
    spec = page.evaluate("fetch('/openapi.json').then((r) => r.json()).then((s) => s.openapi)")
    assert spec.startswith("3.")
    assert _violations(page) == [] and errors == []


def test_staff_pages_refuse_to_be_framed_and_the_demo_page_does_not(context, site):
    page, _ = _page(context)
    page.goto(site + "/")
    framed = page.evaluate(
        """async (paths) => {
            const results = {};
            for (const path of paths) {
                const frame = document.createElement("iframe");
                const loaded = new Promise((done) => frame.addEventListener("load", done));
                frame.src = path;
                document.body.append(frame);
                await loaded;
                // A refused frame holds Chromium's error page, which this page cannot read.
                results[path] = frame.contentDocument?.title ?? null;
            }
            return results;
        }""",
        ["/login", "/"],
    )
    assert framed["/login"] is None
    assert framed["/"]  # the demo page's own title
