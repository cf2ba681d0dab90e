"""The real widget in headless Chromium against the real app on a loopback port.

Covers: the demo page and its hostile CSS, open/close and focus, a streamed answer with a
working citation link, history after a reload, a cut connection that loses nothing, a lost
acknowledgement that stores nothing twice, XSS shown as text, axe-core, 360 px, Chinese.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from bot.app import create_app
from bot.config import Settings
from tests.browser import (
    run_axe,
    save_screenshot,
    serve,
    stored_conversation,
    stored_outbox,
    widget,
)
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.browser

QUESTION = "How do I set up my Tide Hub?"
ARTICLE = "https://help.tidewater.example/devices/set-up-hub"
KB_DIR = Path(__file__).resolve().parents[1] / "kb_docs"
WS_URL = re.compile(r"/ws/widget")


class Tab:
    """One browser tab on the demo page, recording WebSocket frames, dialogs and page errors."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.base_url = base_url
        self.page = context.new_page()
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("websocket", self._watch)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _watch(self, ws: Any) -> None:
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    @property
    def w(self) -> Any:
        return widget(self.page)

    def open(self, path: str = "/") -> Tab:
        self.page.goto(self.base_url + path)
        self.w.get_by_role("button", name="Open chat").click()
        expect(self.w.get_by_role("dialog")).to_be_visible()
        return self

    def ask(self, text: str) -> None:
        box = self.w.get_by_role("textbox", name="Type your message")
        box.fill(text)
        box.press("Enter")

    def stored(self, role: str) -> Any:
        """Rendered messages of one role that carry a server sequence number."""
        return self.w.locator(f".msg.{role}[data-seq]")

    def wait_sent(self, count: int) -> None:
        """Until this many customer messages are acknowledged (they carry a seq)."""
        expect(self.stored("customer")).to_have_count(count, timeout=30_000)

    def wait_answers(self, count: int) -> None:
        expect(self.stored("bot")).to_have_count(count, timeout=30_000)

    def seqs(self) -> list[int]:
        return [
            int(s)
            for s in self.w.locator("[data-seq]").evaluate_all(
                "nodes => nodes.map(n => n.dataset.seq)"
            )
        ]

    def server_messages(self) -> list[dict[str, Any]]:
        state = stored_conversation(self.page)
        response = httpx.get(
            f"{self.base_url}/api/conversations/{state['conversationId']}/messages",
            params={"after": 0},
            headers={"Authorization": f"Bearer {state['token']}"},
        )
        response.raise_for_status()
        body = response.json()
        return body["messages"] if isinstance(body, dict) else body


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    yield context
    context.close()


@pytest.fixture
def tab(context: BrowserContext, live_server: str) -> Iterator[Tab]:
    tab = Tab(context, live_server)
    yield tab
    assert tab.errors == [], "the page threw"
    assert tab.dialogs == [], "a dialog fired"


def test_streamed_answer_has_a_working_citation_link(tab: Tab, context: BrowserContext) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)

    final = next(f for f in tab.received if f["type"] == "message" and f["role"] == "bot")
    tokens = [f for f in tab.received if f["type"] == "token"]
    assert tokens and {f["stream_id"] for f in tokens} == {final["stream_id"]}
    assert "".join(f["text"] for f in tokens).strip() == final["text"].strip()
    answer = tab.stored("bot").first
    expect(answer).not_to_have_attribute("aria-busy", "true")

    link = answer.locator("a.cite").first  # the first [n] marker in the text
    n = int(link.inner_text().strip("[]"))
    cited = next(c for c in final["citations"] if c["n"] == n)
    assert cited["url"] in _article_urls()
    expect(link).to_have_attribute("href", cited["url"])
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    source = answer.locator(".sources a", has_text=cited["title"])
    expect(source).to_have_attribute("href", cited["url"])
    # The help center is not reachable offline: serve the article so the click can land.
    context.route(f"{cited['url']}*", _serve_html(f"<h1>{cited['title']}</h1>"))
    with context.expect_page() as opened:
        link.click()
    assert opened.value.url == cited["url"]


def _article_urls() -> set[str]:
    """The url of every kb_docs article, from its front matter."""
    found = re.compile(r"^url:\s*(\S+)\s*$", re.MULTILINE)
    return {m.group(1) for path in KB_DIR.rglob("*.md") for m in found.finditer(path.read_text())}


def test_reload_restores_the_conversation(tab: Tab) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)
    before = stored_conversation(tab.page)["conversationId"]
    seqs = tab.seqs()

    tab.page.reload()
    expect(tab.w.get_by_role("dialog")).to_be_visible()  # it was open, so it reopens
    expect(tab.stored("customer").filter(has_text=QUESTION)).to_have_count(1)
    assert tab.seqs() == seqs
    assert stored_conversation(tab.page)["conversationId"] == before


def test_a_cut_connection_loses_nothing(tab: Tab, context: BrowserContext) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)

    context.set_offline(True)
    expect(tab.w.locator(".status")).to_have_text("Connection lost. Reconnecting…")
    offline = ["Is the Tide Cam waterproof?", "How long does shipping take?"]
    for text in offline:
        tab.ask(text)
    expect(tab.w.locator(".msg.customer", has_text="Sending…")).to_have_count(2)
    assert [o["text"] for o in stored_outbox(tab.page)] == offline

    context.set_offline(False)
    tab.wait_sent(3)
    assert stored_outbox(tab.page) == []
    _assert_nothing_lost(tab, [QUESTION, *offline])


def test_a_second_tab_sends_what_the_first_queued(tab: Tab, context: BrowserContext) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)
    other = Tab(context, tab.base_url)
    other.page.goto(tab.base_url + "/")
    expect(other.stored("bot")).to_have_count(1)  # the same conversation, reopened

    context.set_offline(True)
    expect(tab.w.locator(".status")).to_have_text("Connection lost. Reconnecting…")
    tab.ask("Typed in the first tab")
    expect(other.w.locator(".msg.customer", has_text="Typed in the first tab")).to_have_count(1)
    tab.page.close()  # gone before it could send
    context.set_offline(False)
    other.wait_sent(2)
    _assert_nothing_lost(other, [QUESTION, "Typed in the first tab"])
    assert other.errors == []


def test_a_lost_acknowledgement_stores_the_message_once(tab: Tab) -> None:
    # The socket dies after the server stored a message but before the widget heard the ack:
    # the widget must re-send it and the server must keep only one copy.
    routes: list[WebSocketRoute] = []
    drop = {"next_ack": False}

    def relay(ws: WebSocketRoute) -> None:
        routes.append(ws)
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            if drop["next_ack"] and json.loads(message)["type"] == "ack":
                drop["next_ack"] = False
                ws.close(code=4000)
                server.close()
                return
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    tab.page.route_web_socket(WS_URL, relay)
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)

    drop["next_ack"] = True
    tab.ask("Where is my order?")
    tab.wait_sent(2)
    assert len(routes) >= 2, "the widget did not reconnect"
    sends = [f for f in tab.sent if f["type"] == "message" and f["text"] == "Where is my order?"]
    assert len(sends) == 2 and sends[0]["client_id"] == sends[1]["client_id"]
    _assert_nothing_lost(tab, [QUESTION, "Where is my order?"])


def _settled(tab: Tab) -> list[dict[str, Any]]:
    """The server's messages, once it has replied to the last one and the widget shows them all."""
    seen: tuple[list[int], list[int]] = ([], [])
    for _ in range(300):
        stored = tab.server_messages()
        seen = (tab.seqs(), [m["seq"] for m in stored])
        # A human-owned conversation (queued, agent) gets no bot reply: the bot stays silent.
        replied = stored and stored[-1]["role"] != "customer"
        human = stored_conversation(tab.page)["state"] in ("queued", "agent")
        if (replied or human) and seen[0] == seen[1]:
            return stored
        tab.page.wait_for_timeout(100)
    raise AssertionError(f"the widget shows seqs {seen[0]}, the server stored {seen[1]}")


def _assert_nothing_lost(tab: Tab, asked: list[str]) -> None:
    stored = _settled(tab)  # each shown exactly once, in the server's order
    customer = [m["text"] for m in stored if m["role"] == "customer"]
    assert customer == asked  # each stored exactly once, in order
    for text in asked:
        expect(tab.w.locator(".msg.customer", has_text=text)).to_have_count(1)


XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "[click me](javascript:alert(3))",
    '<a href="javascript:alert(4)">x</a> **<svg onload=alert(5)>**',
]


def test_customer_xss_is_shown_as_text(tab: Tab) -> None:
    tab.open()
    for n, payload in enumerate(XSS, start=1):
        tab.ask(payload)
        expect(tab.stored("customer")).to_have_count(n, timeout=15_000)
    bubbles = tab.stored("customer").locator(".bubble").all_inner_texts()
    assert bubbles == XSS
    _settled(tab)  # the replies are rendered too (they may quote the question)
    assert tab.w.locator("img, script, svg[onload], a[href^='javascript']").count() == 0
    assert tab.page.evaluate("document.querySelectorAll('img').length") == 0


def test_bot_markdown_is_a_safe_subset(tab: Tab) -> None:
    # Knowledge-base text can be hostile too: feed the widget a crafted server frame.
    routes: list[WebSocketRoute] = []

    def relay(ws: WebSocketRoute) -> None:
        routes.append(ws)
        ws.connect_to_server()

    tab.page.route_web_socket(WS_URL, relay)
    tab.open()
    expect(tab.w.locator(".status")).to_have_text("Typically replies instantly")
    text = (
        "Plug in the **Tide Hub** and wait for *blinking blue* [1].\n"
        "Line two with `code`.\n\n"
        "- first\n- second\n\n"
        "1. one\n2. two\n\n"
        "[guide](https://help.tidewater.example/devices/wifi-requirements) "
        "[bad](javascript:alert(1)) [2] <img src=x onerror=alert(2)>"
    )
    citations = [
        {"n": 1, "doc_id": "devices-set-up-hub", "title": "Set up your Tide Hub", "url": ARTICLE},
        {"n": 2, "doc_id": "evil", "title": "Evil", "url": "javascript:alert(3)"},
    ]
    frame = {
        "type": "message",
        "seq": 1,
        "role": "bot",
        "text": text,
        "citations": citations,
        "created_at": "2026-01-01T00:00:00Z",
    }
    routes[-1].send(json.dumps(frame))
    bubble = tab.stored("bot").locator(".bubble")
    expect(bubble).to_have_count(1)

    assert bubble.locator("p").count() == 2
    expect(bubble.locator("strong")).to_have_text("Tide Hub")
    expect(bubble.locator("em")).to_have_text("blinking blue")
    expect(bubble.locator("code")).to_have_text("code")
    assert bubble.locator("br").count() == 1
    assert bubble.locator("ul > li").all_inner_texts() == ["first", "second"]
    assert bubble.locator("ol > li").all_inner_texts() == ["one", "two"]
    hrefs = bubble.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [ARTICLE, "https://help.tidewater.example/devices/wifi-requirements"]
    expect(bubble).to_contain_text("[bad](javascript:alert(1)) [2] <img src=x onerror=alert(2)>")
    assert tab.w.locator("img").count() == 0
    sources = tab.stored("bot").locator(".sources li")
    expect(sources.nth(1)).to_have_text("Evil")
    assert sources.nth(1).locator("a").count() == 0


def test_keyboard_and_focus(tab: Tab) -> None:
    tab.page.goto(tab.base_url + "/")
    launcher = tab.w.get_by_role("button", name="Open chat")
    launcher.focus()
    tab.page.keyboard.press("Enter")
    expect(tab.w.get_by_role("dialog")).to_be_visible()
    expect(tab.w.get_by_role("textbox", name="Type your message")).to_be_focused()

    tab.page.keyboard.type("line one")
    tab.page.keyboard.press("Shift+Enter")
    tab.page.keyboard.type("line two")
    expect(tab.w.get_by_role("textbox")).to_have_value("line one\nline two")
    assert tab.w.locator(".msg.customer").count() == 0

    tab.page.keyboard.press("Escape")
    expect(tab.w.get_by_role("dialog")).to_be_hidden()
    expect(tab.w.get_by_role("button", name="Open chat")).to_be_focused()


def test_replies_to_a_closed_widget_show_an_unread_badge(tab: Tab) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.page.keyboard.press("Escape")
    tab.wait_answers(1)
    unread = tab.w.locator("[data-seq]:not(.customer)").count()
    launcher = tab.w.get_by_role("button", name=f"Open chat ({unread} new)")
    expect(launcher).to_be_visible()
    expect(tab.w.locator(".badge")).to_have_text(str(unread))
    launcher.click()
    expect(tab.w.locator(".badge")).to_be_hidden()
    expect(tab.w.get_by_role("button", name="Close chat").last).to_have_attribute(
        "aria-expanded", "true"
    )


def test_feedback_and_rating(tab: Tab) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)
    seq = tab.seqs()[-1]

    up = tab.stored("bot").get_by_role("button", name="Helpful", exact=True)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(tab.stored("bot").get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "false"
    )
    tab.w.get_by_role("button", name="End chat").click()
    tab.w.get_by_role("button", name="4 out of 5").click()
    expect(tab.w.locator(".rating")).to_contain_text("You rated this chat 4 out of 5")

    assert _controls(tab) == [
        {"type": "feedback", "seq": seq, "value": "up"},
        {"type": "rating", "value": 4},
    ]
    tab.page.reload()
    expect(tab.stored("bot").get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert not [f for f in tab.received if f["type"] == "error"]


def test_talk_to_a_person_offline_then_back_to_the_bot(tab: Tab) -> None:
    tab.open()
    tab.w.get_by_role("button", name="Talk to a person").click()
    banner = tab.w.locator(".banner")
    expect(banner).to_contain_text("You're in line for a person")
    # No agent is online in the test app: the customer may leave an email address.
    tab.w.get_by_role("textbox", name="Leave your email address").fill("sam@example.com")
    tab.w.get_by_role("button", name="Send email").click()
    expect(banner.get_by_role("textbox")).to_have_count(0)
    tab.w.get_by_role("button", name="Keep chatting with the assistant").click()
    expect(banner).to_be_hidden()
    expect(
        tab.w.locator(".note", has_text="You're chatting with the assistant again.")
    ).to_be_visible()

    assert _controls(tab) == [
        {"type": "handoff_request"},
        {"type": "contact", "email": "sam@example.com"},
        {"type": "cancel_handoff"},
    ]
    assert [f["state"] for f in tab.received if f["type"] == "state"][-1] == "bot"
    assert not [f for f in tab.received if f["type"] == "error"]


def test_a_rejected_token_starts_a_new_conversation(tab: Tab) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)
    first = stored_conversation(tab.page)["conversationId"]
    tab.page.evaluate(
        """() => {
            const key = Object.keys(localStorage).find((k) => k.startsWith("allhours:"));
            const state = JSON.parse(localStorage.getItem(key));
            localStorage.setItem(key, JSON.stringify({...state, token: "forged"}));
        }"""
    )
    tab.page.reload()
    expect(tab.w.get_by_role("alert")).to_contain_text("started a new one")
    tab.ask("Where is my order?")
    tab.wait_answers(1)
    assert stored_conversation(tab.page)["conversationId"] != first
    assert [m["text"] for m in tab.server_messages() if m["role"] == "customer"] == [
        "Where is my order?"
    ]


def _controls(tab: Tab) -> list[dict[str, Any]]:
    return [f for f in tab.sent if f["type"] not in ("message", "typing")]


def test_host_css_cannot_reach_the_widget(tab: Tab) -> None:
    tab.open()  # the demo page says `* {font-size: 30px !important}` and `button {display: none}`
    box = tab.w.get_by_role("textbox", name="Type your message")
    assert box.evaluate("el => getComputedStyle(el).fontSize") == "15px"
    expect(tab.w.get_by_role("button", name="Close chat").first).to_be_visible()
    icon = tab.w.locator(".launcher svg").first
    assert icon.evaluate("el => getComputedStyle(el).width") == "28px"
    # ...and the widget's styles stay in its shadow root.
    assert tab.page.evaluate("document.querySelectorAll('link[href*=\"widget.css\"]').length") == 0


def test_axe_finds_no_serious_violations_and_screenshot(tab: Tab) -> None:
    tab.open()
    tab.ask(QUESTION)
    tab.wait_answers(1)
    path = save_screenshot(tab.page, "widget-open.png")
    print(f"\nscreenshot of the open widget: {path}")

    tab.stored("bot").get_by_role("button", name="Helpful", exact=True).click()
    tab.w.get_by_role("button", name="End chat").click()
    violations = [v for v in run_axe(tab.page) if v["impact"] in ("serious", "critical")]
    assert violations == [], json.dumps(violations, indent=1)


def test_small_screen_360px(chromium: Browser, live_server: str) -> None:
    # Reduced motion: the panel's opening animation (0.18 s) can outlast a 20 ms answer, and
    # the layout is measured once it has settled.
    context = chromium.new_context(viewport={"width": 360, "height": 740}, reduced_motion="reduce")
    try:
        tab = Tab(context, live_server).open()
        tab.ask(QUESTION)
        tab.wait_answers(1)
        panel = tab.w.get_by_role("dialog").bounding_box()
        assert panel == {"x": 0, "y": 0, "width": 360, "height": 740}
        for name in ("Send", "Talk to a person", "End chat", "Close chat"):
            box = tab.w.get_by_role("button", name=name).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, name
        log = tab.w.get_by_role("log")
        assert log.evaluate("el => el.scrollWidth <= el.clientWidth")
        save_screenshot(tab.page, "widget-360.png")
        assert tab.errors == []
    finally:
        context.close()


def test_strings_follow_data_lang_and_the_browser_language(
    chromium: Browser, live_server: str
) -> None:
    for locale, attrs in (("en-US", 'data-lang="zh"'), ("zh-CN", "")):
        context = chromium.new_context(locale=locale)
        try:
            page = _embed(context, live_server, attrs)
            widget(page).get_by_role("button", name="打开聊天").click()
            expect(widget(page).get_by_role("button", name="转人工客服")).to_be_visible()
            expect(widget(page).get_by_role("textbox", name="输入消息")).to_be_focused()
            page.keyboard.type("如何重置密码？")
            page.keyboard.press("Enter")
            expect(widget(page).locator(".msg.customer[data-seq]")).to_have_count(1)
            expect(widget(page).locator(".status")).to_have_text("通常即时回复")
        finally:
            context.close()


def test_text_on_a_light_brand_colour_turns_dark(context: BrowserContext, live_server: str) -> None:
    page = _embed(context, live_server, 'data-color="#ffd400" data-title="Sunny"')
    widget(page).get_by_role("button", name="Open chat").click()
    title = widget(page).locator(".title")
    expect(title).to_have_text("Sunny")
    assert title.evaluate("el => getComputedStyle(el).color") == "rgb(17, 24, 39)"
    violations = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert violations == [], json.dumps(violations, indent=1)


def _embed(context: BrowserContext, base_url: str, attrs: str) -> Page:
    """A bare host page that embeds the widget with these attributes.

    It is written into a document the server really served: a page that only a route fulfilled
    counts as public to Chromium's local-network checks, which then block its loopback socket."""
    html = (
        '<!doctype html><meta charset="utf-8"><title>host</title>'
        f'<script src="/widget.js" {attrs} async></script>'
    )
    page = context.new_page()
    page.goto(f"{base_url}/widget.css")  # any plain document of the server's, without the widget
    page.set_content(html)
    return page


def _serve_html(html: str) -> Any:
    return lambda route: route.fulfill(body=html, content_type="text/html")


def test_an_answer_the_llm_breaks_off_is_taken_back(
    context: BrowserContext, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    """The LLM streams the start of an answer, then its connection breaks. The customer gets
    the words as they come, then the widget takes them back and says a person will help: no
    half answer stays on screen, and none is stored."""
    openai_server.reply = " ".join(["Hold the button on the Tide Hub for ten seconds."] * 8)
    openai_server.break_after = 4
    settings = Settings(
        data_dir=tmp_path,
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        handoff_threshold=0.0,
        llm="openai",
        openai_base_url=openai_server.base_url,
        llm_timeout_s=10,
        llm_max_retries=0,
    )
    with serve(create_app(settings)) as base_url:
        tab = Tab(context, base_url).open()
        tab.ask(QUESTION)
        # The queue notice (a stored system message) shows as a note.
        expect(tab.w.locator(".note[data-seq]")).to_have_count(1, timeout=30_000)
        expect(tab.w.locator(".banner")).to_contain_text("You're in line for a person")
        expect(tab.w.get_by_text("Hold the button")).to_have_count(0)
        expect(tab.w.locator(".msg.bot[data-seq]")).to_have_count(0)
        roles = [m["role"] for m in tab.server_messages()]
    assert roles == ["customer", "system"]
    tokens = [f for f in tab.received if f["type"] == "token"]
    assert tokens and "Hold the button" in "".join(f["text"] for f in tokens)  # it was shown
    aborted = [f["stream_id"] for f in tab.received if f["type"] == "stream_aborted"]
    assert aborted == [tokens[0]["stream_id"]]
    assert tab.errors == []
