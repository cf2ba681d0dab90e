"""Handoff end to end in two browser contexts: a customer in the widget on the demo page and an
agent signed in to the console, against the real app on a loopback port.

An unanswerable question is handed off and the console shows why; the agent claims it and
replies; the customer sees "<name> joined" and the reply; typing shows both ways; the bot stays
silent while the agent owns the conversation; after "Return to bot" the bot answers again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.staff.users import create_user
from tests.browser import inject_axe, save_screenshot, serve, stored_conversation, widget
from tests.conftest import KB_DIR

pytestmark = pytest.mark.browser

AGENT = ("ana@example.com", "Ana Lee", "a long password")
UNANSWERABLE = "Can I pay my invoice with Bitcoin?"
ANSWERABLE = "How do I set up my Tide Hub?"
# Not the same question again: the policy rightly hands off a customer who repeats themselves.
AFTER_RETURN = "How do I pair a door sensor with the hub?"
MARKUP = '<img src=x onerror="window.pwned=1"> <a href="javascript:alert(1)">x</a>'
WAIT = 30_000  # ms: generous for a loaded CI machine; nothing here measures speed


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    # clarify_first off: the first low-confidence turn hands off instead of asking to rephrase.
    # The threshold is set here, not taken from the shipped calibration (fitted for 5 % wrong
    # answers on the calibration sets, threshold 0.97, where these kb_docs answers score
    # 0.7-0.85, in this conversation's context lower, and paying in bitcoin 0.05-0.21): this
    # test is about the flow between the two parties.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("handoff"),
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        clarify_first=False,
        handoff_threshold=0.3,
    )
    app = create_app(settings)
    with serve(app) as base_url:
        email, name, password = AGENT
        with session_scope(app.state.sessionmaker) as session:
            create_user(session=session, email=email, name=name, password=password, roles=["agent"])
        yield base_url


@pytest.fixture
def contexts(chromium: Browser) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    customer = chromium.new_context(viewport={"width": 1100, "height": 800})
    agent = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield customer, agent
    customer.close()
    agent.close()


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def sign_in(page: Page, base_url: str) -> None:
    email, _, password = AGENT
    page.goto(f"{base_url}/agent")  # not signed in: the sign-in page, then back here
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/agent")
    expect(page.locator("#connection")).to_have_text("Connected.", timeout=WAIT)


def type_until_seen(box: Any, indicator: Any) -> None:
    """Type until the other side shows the indicator: the widget reports typing at most
    every few seconds, so the first keys may fall inside its quiet period."""
    for _ in range(WAIT // 1000):
        box.press_sequentially("h")
        try:
            expect(indicator).to_be_visible(timeout=1000)
            return
        except AssertionError:
            continue
    expect(indicator).to_be_visible()


def console_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the whole console page."""
    inject_axe(page)
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map(
            (v) => ({id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target)}))"""
    )


def server_messages(page: Page, base_url: str) -> list[dict[str, Any]]:
    state = stored_conversation(page)
    response = httpx.get(
        f"{base_url}/api/conversations/{state['conversationId']}/messages",
        params={"after": 0},
        headers={"Authorization": f"Bearer {state['token']}"},
    )
    response.raise_for_status()
    body = response.json()
    return body["messages"] if isinstance(body, dict) else body


def test_a_handoff_from_widget_to_console_and_back_to_the_bot(server, contexts):
    customer_context, agent_context = contexts
    console = agent_context.new_page()
    shop = customer_context.new_page()
    console_errors, shop_errors = watch_errors(console), watch_errors(shop)
    sign_in(console, server)

    # The customer asks what the knowledge base cannot answer: it is handed off.
    shop.goto(server + "/")
    chat = widget(shop)
    chat.get_by_role("button", name="Open chat").click()
    box = chat.get_by_role("textbox", name="Type your message")
    box.fill(UNANSWERABLE)
    box.press("Enter")

    # The console lists it with its reason and a preview; the agent claims it.
    row = console.locator(".queue-item").filter(has_text=UNANSWERABLE)
    expect(row).to_be_visible(timeout=WAIT)
    expect(row.locator(".badge").first).to_have_text("Low confidence")
    row.get_by_role("button", name="Claim").click()
    expect(console.locator("#conversation-state")).to_have_text("agent · Ana Lee", timeout=WAIT)
    expect(console.locator("#p-reason")).to_contain_text("Low confidence")
    expect(console.locator("#p-goal")).to_have_text(UNANSWERABLE)
    expect(console.locator("#transcript .msg.customer").first).to_contain_text(UNANSWERABLE)

    # The customer sees who joined; typing shows both ways; the reply arrives.
    expect(chat.locator(".note").filter(has_text="Ana Lee joined the chat.")).to_be_visible(
        timeout=WAIT
    )
    type_until_seen(box, console.locator("#customer-typing"))
    box.fill("")
    reply = console.get_by_label("Reply to the customer")
    reply.press_sequentially("Let me check")
    expect(chat.locator(".typing")).to_contain_text("Ana Lee is typing", timeout=WAIT)
    reply.fill("We accept cards and bank transfers, not Bitcoin.")
    reply.press("Enter")
    answer = chat.locator(".msg.agent").filter(has_text="not Bitcoin")
    expect(answer).to_be_visible(timeout=WAIT)
    expect(answer.locator(".who")).to_have_text("Ana Lee")

    # While the agent owns the conversation the bot stays silent, even on what it could answer.
    box.fill(ANSWERABLE)
    box.press("Enter")
    seen = console.locator("#transcript .msg.customer").filter(has_text=ANSWERABLE)
    expect(seen).to_be_visible(timeout=WAIT)
    box.fill(MARKUP)
    box.press("Enter")
    shown = console.locator("#transcript .msg.customer").filter(has_text=MARKUP)
    expect(shown).to_be_visible(timeout=WAIT)  # as text: customer input is never HTML
    assert console.locator("#transcript img").count() == 0
    assert console.evaluate("window.pwned") is None
    reply.fill("One more thing before I go.")
    reply.press("Enter")
    expect(chat.locator(".msg.agent").filter(has_text="One more thing")).to_be_visible(timeout=WAIT)
    serious = [v for v in console_axe(console) if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    save_screenshot(console, "handoff-console.png")

    # Back to the bot: it answers again, with a citation.
    console.get_by_role("button", name="Return to bot").click()
    expect(console.locator("#conversation-state")).to_have_text("bot", timeout=WAIT)
    expect(chat.locator(".note").filter(has_text="assistant again")).to_be_visible(timeout=WAIT)
    box.fill(AFTER_RETURN)
    box.press("Enter")
    expect(chat.locator(".msg.bot[data-seq] .sources a").first).to_be_visible(timeout=WAIT)
    save_screenshot(shop, "handoff-widget.png")

    roles = [(m["role"], m["text"]) for m in server_messages(shop, server)]
    silent_ask = roles.index(("customer", ANSWERABLE))
    after_return = roles.index(("customer", AFTER_RETURN))
    between = [role for role, _ in roles[silent_ask:after_return]]
    assert between == [
        "customer",
        "customer",
        "agent",
    ]  # the bot stayed silent while the agent had it
    assert [role for role, _ in roles[after_return:]] == ["customer", "bot"]
    assert roles[1][0] == "system"  # the queue notice, not an answer
    assert console_errors == [] and shop_errors == []
