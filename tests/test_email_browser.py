"""The widget's "Email me this conversation" in headless Chromium, against the real app on a
loopback port with a capturing SMTP server for what it sends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from bot.app import create_app
from bot.config import Settings
from tests.browser import run_axe, stored_conversation, widget
from tests.conftest import KB_DIR
from tests.smtp_capture import Captured, capturing_smtp

pytestmark = pytest.mark.browser

QUESTION = "How do I set up my Tide Hub?"
WAIT = 30_000  # ms: generous for a loaded CI machine


@pytest.fixture(scope="module")
def mailed_server(tmp_path_factory) -> Iterator[tuple[str, Captured]]:
    from tests.browser import serve

    with capturing_smtp() as outbox:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("email-widget"),
            kb_dir=KB_DIR,
            secret_key="k" * 32,
            business_hours="always",
            handoff_threshold=0.0,
            support_address="support@tidewater.test",
            smtp_host="127.0.0.1",
            smtp_port=outbox.port,
            smtp_tls="none",
        )
        with serve(create_app(settings)) as base_url:
            yield base_url, outbox


def test_the_customer_emails_herself_the_conversation(chromium: Browser, mailed_server):
    base_url, outbox = mailed_server
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/")
    w = widget(page)
    w.get_by_role("button", name="Open chat").click()
    email_me = w.get_by_role("button", name="Email me this conversation")
    expect(email_me).to_be_hidden()  # nothing to email before the conversation starts
    box = w.get_by_role("textbox", name="Type your message")
    box.fill(QUESTION)
    box.press("Enter")
    expect(w.locator(".msg.bot[data-seq]")).to_have_count(1, timeout=WAIT)

    email_me.click()
    expect(email_me).to_have_attribute("aria-expanded", "true")
    field = w.get_by_role("textbox", name="Email this conversation to:")
    expect(field).to_be_focused()
    field.fill("sam@example.com")
    w.get_by_role("button", name="Email it").click()
    expect(w.get_by_text("We've emailed this conversation to sam@example.com.")).to_be_visible(
        timeout=WAIT
    )
    expect(field).to_be_hidden()
    # As the widget's own tests: serious or critical only (the demo page has its own banner).
    violations = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    assert violations == [], violations

    email = outbox.wait_for(lambda m: "sam@example.com" in str(m["To"]))
    text = email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert QUESTION in text
    conversation_id = stored_conversation(page)["conversationId"]
    assert f"support+{conversation_id}." in str(email["Reply-To"])
    assert errors == []
    context.close()
