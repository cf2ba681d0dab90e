"""An inbound email, read: who wrote, what is new in it, what came attached, and whether a
machine sent it (an auto-reply or a bounce, never answered: that is how mail loops start).

Quoted history and signatures are stripped by ``mail-parser-reply``; HTML-only mail is
read as text. Anything we cannot read raises ``MalformedEmail`` naming why.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from bs4 import BeautifulSoup
from mailparser_reply import EmailReplyParser

_MAX_PARTS = 200  # more MIME parts than any person sends: a bomb, refused as malformed
_MAX_ATTACHMENTS = 10
# Executables and scripts are refused whatever their size: agents open attachments.
_UNSAFE = re.compile(r"\.(exe|com|bat|cmd|scr|pif|msi|js|jse|vbs|vbe|ps1|jar|hta|lnk|dll)$", re.I)
_BULK = {"bulk", "junk", "list"}
_MACHINES = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"}
_UNREADABLE = ("StartBoundaryNotFoundDefect", "NoBoundaryInMultipartDefect")
_REPLY_PARSER = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl", "pt"])


class MalformedEmail(ValueError):
    """The message cannot be read; ``str()`` says why, for the log."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Refusal:
    filename: str
    reason: str  # told to the customer


@dataclass
class Inbound:
    message_id: str  # without angle brackets; a digest of the message when it had none
    sender: str  # the From address, lower case
    sender_name: str
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str  # what the customer wrote this time: quotes and signature stripped
    auto: str | None  # why a machine sent it (never answered), or None
    attachments: list[Attachment] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, the nearest first."""
        return [*self.in_reply_to, *reversed(self.references)]


def parse_email(raw: bytes, *, envelope_from: str | None, max_attachment_bytes: int) -> Inbound:
    """``envelope_from``: the SMTP ``MAIL FROM`` ("" for the null sender of bounces; None
    when unknown)."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = list(message.walk())
    except Exception as error:  # the parser itself gave up
        raise MalformedEmail(f"the MIME structure cannot be parsed: {error}") from error
    if len(parts) > _MAX_PARTS:
        raise MalformedEmail(f"{len(parts)} MIME parts (at most {_MAX_PARTS})")
    for part in parts:
        for defect in part.defects:
            if type(defect).__name__ in _UNREADABLE:
                raise MalformedEmail(f"{type(defect).__name__}: {defect}")
    sender_name, sender = _address(message, "From")
    if not sender:
        raise MalformedEmail("no sender address in From")
    attachments, refused, body = _contents(message, parts, max_attachment_bytes)
    own_ids = _ids(_header(message, "Message-ID"))
    return Inbound(
        message_id=own_ids[0] if own_ids else _digest(raw),
        sender=sender,
        sender_name=sender_name,
        subject=" ".join(_header(message, "Subject").split()),
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        text=latest_reply(body),
        auto=machine_sent(message, sender, envelope_from),
        attachments=attachments,
        refused=refused,
    )


def latest_reply(body: str) -> str:
    """The new text of a reply: quoted history ("On … wrote:", "> …") and signature removed."""
    body = body.replace("\r\n", "\n").strip()
    if not body:
        return ""
    replies = _REPLY_PARSER.read(body).replies
    latest = _without_trailing_quote(replies[0].body if replies else "")
    return latest or body  # a message that is all "quote" is kept whole rather than lost


def _without_trailing_quote(text: str) -> str:
    """The library leaves a "> " block that has no "On … wrote:" line above it; a quote at
    the end goes, quotes between the customer's own lines (an inline reply) stay."""
    lines = text.strip().splitlines()
    while lines and (lines[-1].startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def machine_sent(message: Message, sender: str, envelope_from: str | None) -> str | None:
    """Why this message was sent by a machine (RFC 3834 and common practice), or None."""
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Failed-Recipients"):
        if _header(message, name):
            return f"{name} header"
    if _header(message, "List-Id"):
        return "a mailing list (List-Id)"
    # The null sender: "<>" as SMTP gives it (aiosmtpd keeps the brackets), or Return-Path.
    if envelope_from in ("", "<>") or _header(message, "Return-Path").strip() == "<>":
        return "a bounce (null return path)"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report (multipart/report)"
    if sender.partition("@")[0] in _MACHINES:
        return f"sent by {sender}"
    return None


def _header(message: Message, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:  # an undecodable header is treated as absent, not fatal
        return ""


def _address(message: Message, name: str) -> tuple[str, str]:
    value = _header(message, name)
    pairs = [pair for pair in getaddresses([value]) if "@" in pair[1]] or [parseaddr(value)]
    display, address = pairs[0]
    return display.strip(), address.strip().lower() if "@" in address else ""


def _ids(value: str) -> list[str]:
    return re.findall(r"<([^<>\s]+)>", value)


def _digest(raw: bytes) -> str:
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id"


def _contents(
    message: Message, parts: Sequence[Message], max_bytes: int
) -> tuple[list[Attachment], list[Refusal], str]:
    body_part = _body_part(message)
    body = _text_of(body_part) if body_part is not None else ""
    attachments: list[Attachment] = []
    refused: list[Refusal] = []
    for part in parts:
        if part is body_part or part.is_multipart():
            continue
        if part.get_content_disposition() is None and part.get_content_maintype() == "text":
            continue  # the other alternative of the body (text/html beside text/plain)
        name = _filename(part)
        data = _payload(part)
        if _UNSAFE.search(name):
            refused.append(Refusal(name, "we do not accept programs or scripts"))
        elif len(data) > max_bytes:
            refused.append(Refusal(name, f"it is larger than {_size(max_bytes)}"))
        elif len(attachments) >= _MAX_ATTACHMENTS:
            refused.append(Refusal(name, f"we keep at most {_MAX_ATTACHMENTS} files per email"))
        else:
            attachments.append(Attachment(name, part.get_content_type(), data))
    return attachments, refused, body


def _body_part(message: Message) -> Message | None:
    if isinstance(message, EmailMessage):
        try:
            return message.get_body(preferencelist=("plain", "html"))
        except Exception:
            return None
    return None


def _text_of(part: Message) -> str:
    try:
        text = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AttributeError):  # unknown charset, bad encoding
        text = _payload(part).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    if part.get_content_subtype() == "html":
        soup = BeautifulSoup(text, "html.parser")
        for quoted in soup.select("blockquote, .gmail_quote"):
            quoted.decompose()
        text = soup.get_text("\n")
    return text


def _payload(part: Message) -> bytes:
    """The part's bytes, transfer encoding undone (leniently, as the defects say)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    name = re.sub(r"[\x00-\x1f/\\]", "_", name).strip()[:255]
    return name or f"attachment.{part.get_content_subtype()}"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"
