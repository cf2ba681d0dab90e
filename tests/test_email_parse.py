"""Reading inbound email (bot/email/parse.py), signed reply addresses (bot/email/address.py)
and composing outbound email (bot/email/compose.py): pure functions over real messages."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from bot.email.address import BadReplyAddress, is_ours, read_reply_address, reply_address
from bot.email.compose import Letterhead, compose
from bot.email.parse import MalformedEmail, latest_reply, parse_email

SUPPORT = "support@tidewater.test"
SECRET = "s" * 32


def raw(body: str = "Hello", *, subtype: str = "plain", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Jane <jane@example.com>")
    message["To"] = SUPPORT
    message["Subject"] = "Hi"
    message["Message-ID"] = "<m1@example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body, subtype=subtype)
    return message.as_bytes(policy=SMTP)


def parse(data: bytes, envelope_from: str | None = "jane@example.com"):
    return parse_email(data, envelope_from=envelope_from, max_attachment_bytes=1024)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Where is my order?\n\nOn Mon, 1 Dec 2026, Support wrote:\n> We shipped it.",
            "Where is my order?",
        ),
        ("Thanks!\n\n> quoted line\n> another", "Thanks!"),
        ("Reset it please.\n\nBest,\nJane\n-- \nJane Doe\nACME Corp", "Reset it please."),
        ("Just one line", "Just one line"),
        (
            "> I asked about X\nYes, X.\n> and Y\nNo, not Y.",
            "> I asked about X\nYes, X.\n> and Y\nNo, not Y.",
        ),
    ],
)
def test_quoted_history_and_signatures_are_stripped(body, expected):
    assert latest_reply(body) == expected


def test_the_sender_thread_and_text_are_read():
    inbound = parse(raw("My hub is offline.", In_Reply_To="<a@x>", References="<z@x> <a@x>"))
    assert (inbound.sender, inbound.sender_name, inbound.subject) == (
        "jane@example.com",
        "Jane",
        "Hi",
    )
    assert inbound.message_id == "m1@example.com"
    assert inbound.thread_ids == ["a@x", "a@x", "z@x"]  # nearest first
    assert inbound.text == "My hub is offline." and inbound.auto is None


def test_an_html_only_email_is_read_as_text_without_its_quote():
    body = "<p>Is <b>shipping</b> free?</p><blockquote>Earlier message</blockquote>"
    inbound = parse(raw(body, subtype="html"))
    assert "Is" in inbound.text and "shipping" in inbound.text and "free?" in inbound.text
    assert "Earlier message" not in inbound.text and "<b>" not in inbound.text


@pytest.mark.parametrize(
    ("headers", "envelope_from", "why"),
    [
        ({"Auto_Submitted": "auto-replied"}, "jane@example.com", "Auto-Submitted: auto-replied"),
        (
            {"Auto_Submitted": "auto-generated"},
            "jane@example.com",
            "Auto-Submitted: auto-generated",
        ),
        ({"Precedence": "junk"}, "jane@example.com", "Precedence: junk"),
        ({"Precedence": "list"}, "jane@example.com", "Precedence: list"),
        ({"X_Autoreply": "yes"}, "jane@example.com", "X-Autoreply header"),
        ({"List_Id": "<news.example.com>"}, "jane@example.com", "a mailing list (List-Id)"),
        ({}, "<>", "a bounce (null return path)"),
        ({"Return_Path": "<>"}, "x@example.com", "a bounce (null return path)"),
        (
            {"From": "MAILER-DAEMON@mx.example.com"},
            "x@example.com",
            "sent by mailer-daemon@mx.example.com",
        ),
    ],
)
def test_auto_replies_and_bounces_are_recognised(headers, envelope_from, why):
    assert parse(raw("Away", **headers), envelope_from).auto == why


def test_a_person_writing_is_not_taken_for_a_machine():
    assert parse(raw("Hi", Auto_Submitted="no", Precedence="normal")).auto is None


def test_a_delivery_report_is_recognised():
    message = EmailMessage()
    message["From"] = "postmaster@example.com"
    message.set_content("failed")
    message.add_attachment("Status: 5.1.1", subtype="delivery-status")
    message.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    # multipart/report needs its boundary back
    message.set_boundary("b1")
    assert parse(message.as_bytes(policy=SMTP), "x@example.com").auto is not None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"no headers at all, just text\r\n", "no sender address"),
        (
            b"From: jane@example.com\r\n"
            b'Content-Type: multipart/mixed; boundary="q"\r\n\r\nno parts\r\n',
            "StartBoundaryNotFoundDefect",
        ),
        (b"From: not an address\r\n\r\nHi\r\n", "no sender address"),
    ],
)
def test_an_unreadable_email_says_why(data, why):
    with pytest.raises(MalformedEmail, match=why):
        parse(data)


def test_a_message_of_too_many_parts_is_malformed():
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message.set_content("hi")
    for n in range(250):
        message.add_attachment(
            b"x", maintype="application", subtype="octet-stream", filename=f"{n}"
        )
    with pytest.raises(MalformedEmail, match="MIME parts"):
        parse(message.as_bytes(policy=SMTP))


def test_attachments_are_bounded_and_programs_refused():
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message.set_content("see attached")
    message.add_attachment(b"ok", maintype="text", subtype="csv", filename="orders.csv")
    message.add_attachment(b"x" * 2048, maintype="image", subtype="png", filename="big.png")
    message.add_attachment(b"MZ", maintype="application", subtype="x-msdownload", filename="a.EXE")
    message.add_attachment(b"z", maintype="application", subtype="pdf", filename="../../etc/passwd")
    inbound = parse(message.as_bytes(policy=SMTP))
    assert [(a.filename, a.data) for a in inbound.attachments] == [
        ("orders.csv", b"ok"),
        (".._.._etc_passwd", b"z"),  # no path survives into a file name
    ]
    assert [(r.filename, r.reason) for r in inbound.refused] == [
        ("big.png", "it is larger than 1 KB"),
        ("a.EXE", "we do not accept programs or scripts"),
    ]
    assert inbound.text == "see attached"


def test_a_reply_address_names_its_conversation_only_with_the_right_signature():
    address = reply_address("c0ffee", support=SUPPORT, domain="", secret=SECRET)
    assert read_reply_address(address, support=SUPPORT, domain="", secret=SECRET) == "c0ffee"
    assert (
        read_reply_address(address.upper(), support=SUPPORT, domain="", secret=SECRET) == "c0ffee"
    )
    assert read_reply_address(SUPPORT, support=SUPPORT, domain="", secret=SECRET) is None
    for forged in (
        address.replace("c0ffee", "c0ffef"),  # another conversation, same signature
        reply_address("c0ffee", support=SUPPORT, domain="", secret="another key " * 3),
        "support+c0ffee@tidewater.test",  # no signature
    ):
        with pytest.raises(BadReplyAddress):
            read_reply_address(forged, support=SUPPORT, domain="", secret=SECRET)


def test_only_the_support_address_and_its_tags_are_ours():
    assert is_ours("Support+x.y@Tidewater.test", support=SUPPORT, domain="")
    assert is_ours("support@reply.tidewater.test", support=SUPPORT, domain="reply.tidewater.test")
    assert not is_ours("sales@tidewater.test", support=SUPPORT, domain="")
    assert not is_ours("support@elsewhere.test", support=SUPPORT, domain="")
    assert not is_ours("supportive@tidewater.test", support=SUPPORT, domain="")


def test_an_email_is_escaped_threaded_and_links_its_sources():
    head = Letterhead(
        "Tidewater Support <support@tidewater.test>",
        SUPPORT,
        "tidewater.test",
        SECRET,
        "https://help.test",
    )
    citations = [
        {"n": 1, "title": "Set up <your> hub", "url": "https://help.test/hub?a=1&b=2"},
        {"n": 2, "title": "Relative", "url": "/kb/relative"},
        {"n": 3, "title": "Script", "url": "javascript:alert(1)"},
    ]
    email = compose(
        letterhead=head,
        to="jane@example.com",
        subject="Re: Hub",
        text="Plug it in <script>alert(1)</script> [1]\n\nThen wait.",
        conversation_id="c0ffee",
        citations=citations,
        thread=["first@x", "second@x"],
        answering="first@x",
        automatic=True,
    )
    assert email["In-Reply-To"] == "<first@x>"
    assert email["References"] == "<first@x> <second@x>"
    assert email["Auto-Submitted"] == "auto-replied"
    assert str(email["Reply-To"]) == reply_address(
        "c0ffee", support=SUPPORT, domain="tidewater.test", secret=SECRET
    )
    html = email.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://help.test/hub?a=1&amp;b=2">[1] Set up &lt;your&gt; hub</a>' in html
    assert '<a href="https://help.test/kb/relative">' in html
    assert "javascript:" not in html
    plain = email.get_body(preferencelist=("plain",)).get_content()
    assert "[1] Set up <your> hub <https://help.test/hub?a=1&b=2>" in plain
