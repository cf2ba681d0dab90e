"""The editor and the widget in headless Chromium against the real app on a loopback port:
an editor signs in and writes an article, then a customer asks the widget a question only that
article answers and gets the answer citing the article's new version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.staff.users import create_user
from tests.browser import inject_axe, serve, widget

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
KB = {
    "returns.md": "# Returns\n\nSend a parcel back within 30 days of delivery for a refund.",
    "shipping.md": "# Shipping\n\nWe ship to every country in Europe within five working days.",
}
QUESTION = "Can I bring my dog on the Tidewater ferry?"


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[str, FastAPI]]:
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    for name, text in KB.items():
        (kb_dir / name).write_text(text)
    settings = Settings(
        data_dir=tmp_path,
        kb_dir=kb_dir,
        secret_key="k" * 32,
        business_hours="always",
        # What is tested is that an edit reaches the answer, not how sure the bot is of it:
        # the bot answers whatever its confidence, so recalibrating does not move this test.
        handoff_threshold=0.0,
    )
    app = create_app(settings)
    with serve(app) as base_url:
        with session_scope(app.state.sessionmaker) as session:
            create_user(
                session=session, email="eve@x.com", name="Eve", password=PASSWORD, roles=["editor"]
            )
        yield base_url, app


def write_article(page: Page, base_url: str, body: str, *, new: bool) -> None:
    if new:
        page.goto(f"{base_url}/kb/new")
        page.get_by_label("Id (letters, digits, - . _)").fill("ferry-pets")
        page.get_by_label("Title").fill("Pets on the ferry")
        page.get_by_label("Tags, comma-separated").fill("travel, pets")
    else:
        page.goto(f"{base_url}/kb/docs/ferry-pets")
    page.get_by_label("Markdown").fill(body)
    # The live preview renders what was typed.
    expect(page.locator("#kb-preview h1")).to_have_text("Pets on the ferry")
    page.get_by_role("button", name="Save").click()


def axe_violations(page: Page) -> list[list[Any]]:
    """axe-core on the whole editor page (tests.browser.run_axe looks at the widget only)."""
    inject_axe(page)
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map((v) => [v.id, v.impact, v.nodes.map((n) => n.target.join(" "))])"""
    )


def ask_widget(browser: Browser, base_url: str) -> dict[str, Any]:
    """A customer in a fresh browser context asks QUESTION; the bot's final message frame."""
    context = browser.new_context()
    page = context.new_page()
    frames: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(json.loads(p))))
    page.goto(base_url + "/")
    chat = widget(page)
    chat.get_by_role("button", name="Open chat").click()
    box = chat.get_by_role("textbox", name="Type your message")
    box.fill(QUESTION)
    box.press("Enter")
    expect(chat.locator(".msg.bot[data-seq]")).to_have_count(1, timeout=30_000)
    context.close()
    return next(f for f in frames if f["type"] == "message" and f["role"] == "bot")


def test_an_editor_adds_an_article_and_the_widget_answers_from_it_citing_the_new_version(
    chromium: Browser, site: tuple[str, FastAPI]
) -> None:
    base_url, _app = site
    editor = chromium.new_context().new_page()
    editor.goto(f"{base_url}/kb")
    expect(editor).to_have_url(f"{base_url}/login?next=%2Fkb")
    editor.get_by_label("Email").fill("eve@x.com")
    editor.get_by_label("Password").fill(PASSWORD)
    editor.get_by_role("button", name="Sign in").click()
    expect(editor).to_have_url(f"{base_url}/kb")
    expect(editor.get_by_role("link", name="Returns")).to_be_visible()

    body = "# Pets on the ferry\n\nDogs may travel on the Tidewater ferry on a lead, free."
    write_article(editor, base_url, body, new=True)
    expect(editor.get_by_role("status")).to_have_text("Saved as version 1 and indexed.")
    assert axe_violations(editor) == []
    first = ask_widget(chromium, base_url)
    assert "Dogs may travel on the Tidewater ferry" in first["text"]
    assert ("ferry-pets", 1) in [(c["doc_id"], c["version"]) for c in first["citations"]]

    edited = "# Pets on the ferry\n\nSince May, dogs must stay in the car deck kennels."
    write_article(editor, base_url, edited, new=False)
    expect(editor.get_by_role("status")).to_have_text("Saved as version 2 and indexed.")
    editor.goto(f"{base_url}/kb/docs/ferry-pets/diff?a=1&b=2")
    expect(editor.locator(".diff_add").first).to_be_visible()
    assert axe_violations(editor) == []
    second = ask_widget(chromium, base_url)
    assert "car deck kennels" in second["text"] and "on a lead" not in second["text"]
    assert [(c["doc_id"], c["version"]) for c in second["citations"]][0] == ("ferry-pets", 2)
