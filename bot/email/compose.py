"""Outbound emails: plain text and HTML (every customer or bot text escaped), the sources of
an answer as links, and the headers that thread a reply (Message-ID, In-Reply-To,
References) and bring the customer's answer back to the conversation (a signed Reply-To)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import urljoin, urlsplit

from bot.config import Settings
from bot.email.address import reply_address

_MAX_REFERENCES = 20  # long threads keep the first message and the latest ones


@dataclass(frozen=True)
class Letterhead:
    """Who our emails come from, and how their reply addresses are signed."""

    from_header: str
    support: str
    domain: str
    secret: str
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Letterhead:
        support = settings.support_address
        domain = settings.reply_domain or support.rpartition("@")[2]
        sender = settings.email_from or formataddr((f"{settings.company_name} Support", support))
        return cls(
            sender, support, domain, settings.secret_key.get_secret_value(), settings.public_url
        )

    def reply_to(self, conversation_id: str) -> str:
        return reply_address(
            conversation_id, support=self.support, domain=self.domain, secret=self.secret
        )

    def link(self, url: str) -> str:
        """An http(s) link for a citation, or "" (site-relative URLs need ``public_url``)."""
        url = url.strip()
        if not urlsplit(url).scheme and url.startswith("/") and self.public_url:
            url = urljoin(self.public_url, url)
        parts = urlsplit(url)
        return url if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def compose(
    *,
    letterhead: Letterhead,
    to: str,
    subject: str,
    text: str,
    conversation_id: str,
    citations: Sequence[dict[str, Any]] = (),
    thread: Sequence[str] = (),
    answering: str | None = None,
    automatic: bool = False,
    now: Any = None,
) -> EmailMessage:
    """``thread``: the Message-IDs of the conversation's emails so far, oldest first;
    ``answering``: the one this email answers (the customer's latest; default the last).
    ``automatic``: the bot wrote it (RFC 3834's
    ``Auto-Submitted: auto-replied``, so that other robots do not answer it)."""
    message = EmailMessage()
    message["From"] = letterhead.from_header
    message["To"] = to
    message["Reply-To"] = letterhead.reply_to(conversation_id)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=letterhead.domain or None)
    if now is not None:
        message["Date"] = format_datetime(now)
    if thread:
        kept = [thread[0], *thread[1:][-(_MAX_REFERENCES - 1) :]]
        message["In-Reply-To"] = f"<{answering or thread[-1]}>"
        message["References"] = " ".join(f"<{item}>" for item in kept)
    if automatic:
        message["Auto-Submitted"] = "auto-replied"
    sources = [(c, letterhead.link(str(c.get("url") or ""))) for c in citations]
    message.set_content(_plain(text, sources))
    message.add_alternative(_html(text, sources), subtype="html")
    return message


def reply_subject(subject: str, fallback: str) -> str:
    subject = " ".join(subject.split()) or fallback
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def message_id_of(message: EmailMessage) -> str:
    return parseaddr(str(message["Message-ID"]))[1].strip("<>") or str(message["Message-ID"])


def _plain(text: str, sources: list[tuple[dict[str, Any], str]]) -> str:
    lines = [text.strip()]
    if sources:
        lines += ["", "Sources:"]
        lines += [
            f"[{c.get('n')}] {c.get('title', '')}" + (f" <{u}>" if u else "") for c, u in sources
        ]
    return "\n".join(lines) + "\n"


def _html(text: str, sources: list[tuple[dict[str, Any], str]]) -> str:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    body = "".join(
        f"<p>{'<br>'.join(html.escape(line) for line in p.splitlines())}</p>" for p in paragraphs
    )
    if sources:
        items = []
        for citation, url in sources:
            title = html.escape(f"[{citation.get('n')}] {citation.get('title', '')}")
            link = f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url else title
            items.append(f"<li>{link}</li>")
        body += f"<p>Sources:</p><ul>{''.join(items)}</ul>"
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>\n'
