"""The email channel end to end over real SMTP on localhost, both ways: allhours' receiver
takes the customer's email, a capturing SMTP server takes what allhours sends. Real app, real
SQLite, real engine and policy, the agent console's real routes."""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.chat.models import Conversation, Message
from bot.email.address import reply_address
from bot.email.models import EmailAttachment, EmailRecord
from tests.smtp_capture import Captured, capturing_smtp, text_of
from tests.test_console import Clock, Console, of_type, wait_for

SUPPORT = "support@tidewater.test"
JANE = "jane@example.com"
MALLORY = "mallory@example.net"
ANSWERABLE = "How do I set up my Tide Hub?"
UNANSWERABLE = "Can I pay my invoice with Bitcoin?"
DEADLINE_S = 60.0  # generous for a loaded 2-core machine; nothing here measures speed


def mail(
    body: str,
    *,
    sender: str = JANE,
    to: str = SUPPORT,
    subject: str = "A question",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{sender}>" if sender == JANE else sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def wait_until(condition: Callable[[], bool], *, what: str) -> None:
    """Wait for a condition of the app's state, up to a deadline (never a fixed sleep)."""
    pause = threading.Event()
    for _ in range(int(DEADLINE_S / 0.02)):
        if condition():
            return
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting until {what}")


@dataclass
class Desk:
    client: TestClient
    console: Console
    outbox: Captured

    @property
    def inbox_port(self) -> int:
        return self.client.app.state.email.inbox.port

    def send(
        self,
        message: EmailMessage | bytes,
        *,
        mail_from: str = JANE,
        to: str | None = None,
        smtp: smtplib.SMTP | None = None,
    ) -> None:
        """Deliver over SMTP; a refusal raises smtplib's error with the server's reply."""
        recipient = to or (str(message["To"]) if isinstance(message, EmailMessage) else SUPPORT)
        # On the wire every line ends in CRLF (smtplib sends bytes as they are).
        raw = message.as_bytes(policy=SMTP) if isinstance(message, EmailMessage) else message
        if smtp is not None:
            smtp.sendmail(mail_from, [recipient], raw)
            return
        with smtplib.SMTP("127.0.0.1", self.inbox_port, timeout=DEADLINE_S) as client:
            client.sendmail(mail_from, [recipient], raw)

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.client.app.state.sessionmaker() as session:
            return list(session.scalars(select(model).where(*where)))

    def messages(self, conversation_id: str) -> list[Message]:
        return self.rows(Message, Message.conversation_id == conversation_id)

    def conversation_of(self, email: EmailMessage) -> str:
        """The conversation named by our reply's signed Reply-To."""
        local = str(email["Reply-To"]).partition("@")[0]
        return local.partition("+")[2].partition(".")[0]

    @property
    def idle(self) -> bool:
        return self.client.app.state.email.idle


def reply_to(email: EmailMessage) -> str:
    return str(email["Reply-To"])


def html_of(email: EmailMessage) -> str:
    return email.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


@pytest.fixture
def desk_factory(chat_settings) -> Iterator[Callable[..., Desk]]:
    with capturing_smtp() as outbox:
        opened: list[TestClient] = []

        def make(**overrides: Any) -> Desk:
            settings = chat_settings(
                support_address=SUPPORT,
                inbox="smtp",
                inbox_port=0,
                smtp_host="127.0.0.1",
                smtp_port=outbox.port,
                smtp_tls="none",
                email_max_bytes=256 * 1024,
                email_max_attachment_bytes=64 * 1024,
                **overrides,
            )
            client = TestClient(create_app(settings, clock=Clock()))
            client.__enter__()
            opened.append(client)
            return Desk(client, Console(client, settings), outbox)

        yield make
        for client in opened:
            client.__exit__(None, None, None)


@pytest.fixture
def desk(desk_factory) -> Desk:
    return desk_factory()


def test_an_emailed_question_is_answered_with_links_to_its_sources(desk):
    question = mail(f"Hi,\n\n{ANSWERABLE}\n\nThanks,\nJane\n-- \nJane Doe\nACME Corp\n")
    desk.send(question)

    answer = desk.outbox.wait_for(lambda m: JANE in str(m["To"]))
    assert answer["In-Reply-To"] == question["Message-ID"]
    assert question["Message-ID"] in str(answer["References"])
    assert answer["Subject"] == "Re: A question"
    assert answer["Auto-Submitted"] == "auto-replied"  # so that robots do not answer the bot
    assert reply_to(answer).startswith("support+") and reply_to(answer).endswith("@tidewater.test")
    plain, html = text_of(answer), html_of(answer)
    assert "Sources:" in plain and "https://help.tidewater.example/" in plain
    assert '<a href="https://help.tidewater.example/' in html

    conversation_id = desk.conversation_of(answer)
    [conversation] = desk.rows(Conversation, Conversation.id == conversation_id)
    assert conversation.channel == "email" and conversation.contact_email == JANE
    customer, bot = desk.messages(conversation_id)
    assert customer.role == "customer" and ANSWERABLE in customer.text
    assert "ACME Corp" not in customer.text  # the signature is stripped
    assert bot.role == "bot" and bot.citations


def test_a_low_confidence_email_is_queued_claimed_and_answered_by_an_agent_in_thread(
    desk_factory,
):
    desk = desk_factory(handoff_threshold=0.99, clarify_first=False)
    agent = desk.console.member("Ana", "agent")
    question = mail(UNANSWERABLE, subject="Paying with Bitcoin")
    desk.send(question)

    # The customer hears that a person will answer; the console shows an email ticket.
    ack = desk.outbox.wait_for(lambda m: "a person will answer" in text_of(m))
    conversation_id = desk.conversation_of(ack)
    queue = desk.console.get(agent, "/api/agent/queue").json()
    [item] = queue["items"]
    assert item["conversation_id"] == conversation_id and item["channel"] == "email"
    assert item["contact_email"] == JANE
    # Routing by channel: nothing waits on the widget, the email backlog has this one.
    nothing = desk.console.send(agent, "POST", "/api/agent/claim-next?channel=widget")
    assert nothing.status_code == 404
    claimed = desk.console.send(agent, "POST", "/api/agent/claim-next?channel=email")
    assert claimed.json()["conversation_id"] == conversation_id
    view = desk.console.get(agent, f"/api/agent/conversations/{conversation_id}").json()
    assert view["channel"] == "email" and view["packet"]["reason"] == "low_confidence"

    reply = f"/api/agent/conversations/{conversation_id}/messages"
    text = "Not yet, but card & <bank> transfers work."
    assert desk.console.send(agent, "POST", reply, json={"text": text}).status_code == 201
    answer = desk.outbox.wait_for(lambda m: "Not yet" in text_of(m))
    assert answer["To"] == JANE
    assert answer["In-Reply-To"] == question["Message-ID"]  # threaded on her email
    assert question["Message-ID"] in str(answer["References"])
    assert ack["Message-ID"] in str(answer["References"])
    assert answer["Subject"] == "Re: Paying with Bitcoin"
    assert answer["Auto-Submitted"] is None  # a person wrote it
    assert "Ana" in text_of(answer)
    assert "card &amp; &lt;bank&gt; transfers" in html_of(answer)  # escaped
    assert desk.conversation_of(answer) == conversation_id

    # Her answer to the reply address joins the conversation; the bot stays silent.
    follow_up = mail(
        "Great, thanks!\n\nOn Thu, Ana wrote:\n> Not yet, but card transfers work.",
        to=reply_to(answer),
        subject="Re: Paying with Bitcoin",
        headers={"In-Reply-To": answer["Message-ID"], "References": answer["Message-ID"]},
    )
    desk.send(follow_up)
    wait_until(lambda: desk.idle, what="the follow-up is handled")
    texts = [(m.role, m.text) for m in desk.messages(conversation_id)]
    assert texts[-1] == ("customer", "Great, thanks!")
    assert [role for role, _ in texts].count("bot") == 0


def test_a_widget_customer_who_left_an_address_gets_the_agents_reply_by_email(desk):
    agent = desk.console.member("Ana", "agent")
    conversation_id, token = desk.console.customer()
    with desk.client.websocket_connect(f"/ws/widget?token={token}") as customer:
        wait_for(customer, of_type("state"))
        customer.send_json({"type": "handoff_request"})
        wait_for(customer, of_type("state", state="queued"))
        customer.send_json({"type": "contact", "email": "wanda@example.org"})
        wait_for(customer, lambda e: e.get("role") == "system" and "wanda" in e.get("text", ""))
        claim = f"/api/agent/conversations/{conversation_id}/claim"
        assert desk.console.send(agent, "POST", claim).status_code == 200
        reply = f"/api/agent/conversations/{conversation_id}/messages"
        desk.console.send(agent, "POST", reply, json={"text": "Seen live in the widget."})
        wait_for(customer, lambda e: e.get("role") == "agent")
        wait_until(lambda: desk.idle, what="the live reply is handled")
    chat = desk.client.app.state.chat
    wait_until(lambda: not chat.widgets.here.get(conversation_id), what="the widget is gone")

    desk.console.send(agent, "POST", reply, json={"text": "Your refund was approved."})
    email = desk.outbox.wait_for(lambda m: "refund was approved" in text_of(m))
    assert email["To"] == "wanda@example.org"
    assert desk.conversation_of(email) == conversation_id
    assert email["Subject"] == "Re: Your conversation with Tidewater"
    # Only what she could not see live was emailed.
    assert not [m for m in desk.outbox.to("wanda@") if "Seen live" in text_of(m)]

    # She answers the email: it lands in the same (widget) conversation.
    desk.send(
        mail("Thank you!", sender="wanda@example.org", to=reply_to(email)),
        mail_from="wanda@example.org",
    )
    assert desk.messages(conversation_id)[-1].text == "Thank you!"


def test_a_spoofed_thread_is_refused_and_reaches_no_conversation(desk):
    desk.send(mail(ANSWERABLE))
    answer = desk.outbox.wait_for(lambda m: JANE in str(m["To"]))
    conversation_id = desk.conversation_of(answer)
    wait_until(lambda: desk.idle, what="the answer is recorded")
    before = len(desk.messages(conversation_id))

    forged = f"support+{conversation_id}.aaaaaaaaaaaaaaaa@tidewater.test"
    with pytest.raises(smtplib.SMTPDataError) as bad_signature:
        desk.send(mail("Let me in", sender=MALLORY, to=forged), mail_from=MALLORY)
    assert bad_signature.value.smtp_code == 550
    assert b"not valid" in bad_signature.value.smtp_error

    # A genuine reply address, or the thread's Message-ID, from another sender.
    for attempt in (
        mail("Send me her data", sender=MALLORY, to=reply_to(answer)),
        mail("Me too", sender=MALLORY, headers={"In-Reply-To": answer["Message-ID"]}),
    ):
        with pytest.raises(smtplib.SMTPDataError) as stranger:
            desk.send(attempt, mail_from=MALLORY)
        assert stranger.value.smtp_code == 550
        assert b"belongs to another address" in stranger.value.smtp_error

    assert len(desk.messages(conversation_id)) == before
    refused = desk.rows(EmailRecord, EmailRecord.status == "refused")
    assert len(refused) == 3 and {r.address for r in refused} == {MALLORY}
    assert all(r.conversation_id is None and r.raw for r in refused)
    assert desk.idle and not desk.outbox.to(MALLORY)


def test_auto_replies_and_bounces_are_never_answered(desk):
    desk.send(mail(ANSWERABLE))
    answer = desk.outbox.wait_for(lambda m: JANE in str(m["To"]))
    conversation_id = desk.conversation_of(answer)
    wait_until(lambda: desk.idle, what="the answer is recorded")
    before = len(desk.messages(conversation_id))

    out_of_office = mail(
        "I am out of the office until Monday.",
        to=reply_to(answer),
        subject="Automatic reply: Re: A question",
        headers={"Auto-Submitted": "auto-replied", "In-Reply-To": answer["Message-ID"]},
    )
    desk.send(out_of_office)
    bounce = mail("Delivery failed", sender="MAILER-DAEMON@example.com", to=reply_to(answer))
    bounce.replace_header(
        "Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"'
    )
    bounce.set_payload("--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed\r\n--b--\r\n")
    desk.send(bounce, mail_from="")
    desk.send(mail("Weekly digest", headers={"Precedence": "bulk"}))

    # Accepted (a bounce is never bounced), stored, and nothing was answered or queued.
    assert desk.idle
    assert len(desk.messages(conversation_id)) == before
    ignored = desk.rows(EmailRecord, EmailRecord.status == "ignored")
    assert sorted(r.detail for r in ignored) == [
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "a bounce (null return path)",
    ]
    assert len(desk.outbox.messages) == 1


def test_a_malformed_message_is_logged_and_nothing_else_is_lost(desk, caplog):
    broken = (
        b"To: support@tidewater.test\r\nSubject: broken\r\n"
        b'Content-Type: multipart/mixed; boundary="never-there"\r\n\r\n'
        b"no boundary ever starts here\r\n"
    )
    huge = mail("x" * (300 * 1024))
    with caplog.at_level(logging.INFO, logger="bot.email"):
        with smtplib.SMTP("127.0.0.1", desk.inbox_port, timeout=DEADLINE_S) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as malformed:
                desk.send(broken, smtp=smtp)
            with pytest.raises(smtplib.SMTPException) as too_big:
                desk.send(huge, smtp=smtp)
            desk.send(mail(ANSWERABLE), smtp=smtp)  # the same session goes on
    assert malformed.value.smtp_code == 550
    assert b"could not be read" in malformed.value.smtp_error
    assert "552" in str(too_big.value)
    [line] = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert f"from {JANE}" in line and "kept as email #" in line and "not answered" in line
    assert "StartBoundaryNotFoundDefect" in line
    [line] = [r.getMessage() for r in caplog.records if "larger than" in r.getMessage()]
    assert f"larger than {256 * 1024} bytes" in line and "client 127.0.0.1" in line

    desk.outbox.wait_for(lambda m: JANE in str(m["To"]))  # the good one is answered
    [kept] = desk.rows(EmailRecord, EmailRecord.status == "malformed")
    assert kept.raw == broken and kept.address == JANE


def test_attachments_are_kept_or_refused_with_a_reason_told_to_the_customer(desk):
    question = mail(ANSWERABLE)
    question.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf"
    )
    question.add_attachment(
        b"MZ...", maintype="application", subtype="octet-stream", filename="setup.exe"
    )
    question.add_attachment(
        b"x" * (65 * 1024), maintype="image", subtype="png", filename="photo.png"
    )
    desk.send(question)

    answer = desk.outbox.wait_for(lambda m: JANE in str(m["To"]))
    told = text_of(answer)
    assert "We could not keep these attachments" in told
    assert "setup.exe: we do not accept programs or scripts" in told
    assert "photo.png: it is larger than 64 KB" in told
    [kept] = desk.rows(EmailAttachment)
    assert (kept.filename, kept.content_type, kept.data) == (
        "receipt.pdf",
        "application/pdf",
        b"%PDF-1.4 receipt",
    )
    customer = desk.messages(desk.conversation_of(answer))[0]
    assert "[attached: receipt.pdf" in customer.text


def test_the_widget_emails_the_conversation_on_request(desk):
    conversation_id, token = desk.console.customer()
    bearer = {"authorization": f"Bearer {token}"}
    posted = desk.client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"client_id": "c1", "text": ANSWERABLE},
        headers=bearer,
    )
    assert posted.status_code == 201
    path = f"/api/conversations/{conversation_id}/email"
    assert desk.client.post(path, json={"email": "wanda@example.org"}).status_code == 401
    bad = desk.client.post(path, json={"email": "not an address"}, headers=bearer)
    assert bad.status_code == 422
    sent = desk.client.post(path, json={"email": "wanda@example.org"}, headers=bearer)
    assert sent.status_code == 202

    email = desk.outbox.wait_for(lambda m: "wanda@example.org" in str(m["To"]))
    assert email["Subject"] == "Your conversation with Tidewater"
    assert ANSWERABLE in text_of(email) and "https://help.tidewater.example/" in text_of(email)
    assert desk.conversation_of(email) == conversation_id
    # It mails an address the caller chooses: a few an hour per conversation, then 429.
    for _ in range(2):
        again = desk.client.post(path, json={"email": "wanda@example.org"}, headers=bearer)
        assert again.status_code == 202
    refused = desk.client.post(path, json={"email": "victim@example.org"}, headers=bearer)
    assert refused.status_code == 429 and refused.json()["detail"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0


def test_the_reply_address_is_signed_with_the_secret_key():
    address = reply_address("ab12", support=SUPPORT, domain="", secret="k" * 32)
    assert address.startswith("support+ab12.") and address.endswith("@tidewater.test")
    assert address != reply_address("ab12", support=SUPPORT, domain="", secret="j" * 32)
