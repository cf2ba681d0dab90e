"""The email channel: an inbound email becomes a customer message of a conversation and is
answered through the chat service (the same engine and handoff policy as the widget); the
company's side goes back by email (``outbox``).

What is refused, and why (the inbox turns a ``Verdict`` into the SMTP reply):
- a reply address whose signature fails, or a thread joined from another sender: 550, and
  nothing reaches the conversation (a stranger cannot write into someone else's);
- an unreadable message: 550 naming why, kept whole for staff and logged;
- auto-replies and bounces: accepted (a bounce must never be bounced) but never answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from bot.chat import conversations
from bot.chat.events import MessagePublic, message_event, message_public
from bot.chat.ratelimit import RateLimited, RateLimiter
from bot.chat.service import ChatService
from bot.config import Settings
from bot.email import threads
from bot.email.address import BadReplyAddress, is_ours, read_reply_address
from bot.email.inbox import Inbox, SmtpInbox
from bot.email.mailer import Mailer
from bot.email.outbox import Outbox
from bot.email.parse import Inbound, MalformedEmail, Refusal, parse_email
from handoff.states import State

log = logging.getLogger(__name__)

_PER_SENDER_PER_HOUR = 30

_HANDED_OFF = (
    "Thanks for your email. We have passed your question to our team, and a person will "
    "answer you by email. You can reply to this message to add anything."
)


@dataclass(frozen=True)
class Verdict:
    """What the inbox answers the sending server: ``code`` is an SMTP reply code."""

    code: int
    text: str
    conversation_id: str | None = None

    @property
    def reply(self) -> str:
        # One line, whatever a parser's message held: a CR or LF would end the SMTP reply.
        return f"{self.code} {' '.join(self.text.split())[:400]}"


class EmailChannel:
    def __init__(self, *, chat: ChatService, settings: Settings, mailer: Mailer) -> None:
        self.chat, self.settings = chat, settings
        self.outbox = Outbox(chat=chat, settings=settings, mailer=mailer)
        self.letterhead = self.outbox.letterhead
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.senders = RateLimiter(
            per_ip=_PER_SENDER_PER_HOUR, per_conversation=_PER_SENDER_PER_HOUR, window_s=3600
        )
        # "Email me this conversation" sends to an address the caller chooses: a few an hour.
        self.transcripts = RateLimiter(per_ip=10, per_conversation=3, window_s=3600)
        self.inbox: Inbox | None = None  # set by ``open_email`` when allhours receives mail

    # -- inbound -------------------------------------------------------------------------

    def accepts(self, recipient: str) -> bool:
        """The inbox takes mail for the support address and its reply addresses only."""
        head = self.letterhead
        return is_ours(recipient, support=head.support, domain=head.domain)

    async def deliver(
        self, raw: bytes, *, envelope_from: str | None, recipients: Sequence[str]
    ) -> Verdict:
        """Store an inbound email and answer it later; the verdict is the SMTP reply."""
        try:
            inbound = parse_email(
                raw,
                envelope_from=envelope_from,
                max_attachment_bytes=self.settings.email_max_attachment_bytes,
            )
        except MalformedEmail as error:
            record = await self._record_in(raw, "malformed", str(error), address=envelope_from)
            log.warning(
                "email: malformed message from %s (%d bytes) kept as email #%d, not answered: %s",
                envelope_from or "<>",
                len(raw),
                record,
                error,
            )
            return Verdict(550, f"5.6.0 The message could not be read: {error}")
        if inbound.auto:
            record = await self._record_in(raw, "ignored", inbound.auto, inbound=inbound)
            log.info("email: #%d from %s not answered: %s", record, inbound.sender, inbound.auto)
            return Verdict(250, "2.0.0 Received (automatic message, not answered)")
        seen = await self.chat.db(
            threads.already_received, message_id=inbound.message_id, address=inbound.sender
        )
        if seen:
            return Verdict(250, "2.0.0 Already received")
        try:
            # Every email may be answered by one of ours: a sender (or someone forging it)
            # gets only so many, and the sending server retries the rest later.
            self.senders.check(ip=inbound.sender)
        except RateLimited:
            log.warning("email: %s sends too many messages; deferred", inbound.sender)
            return Verdict(451, "4.7.1 Too many messages from this address; try again later")
        try:
            conversation_id = await self._thread(inbound, recipients)
        except _Refused as refused:
            await self._record_in(raw, "refused", str(refused), inbound=inbound)
            log.warning("email: refused from %s: %s", inbound.sender, refused)
            return Verdict(550, f"5.7.1 {refused.told}")
        question = await self._store(conversation_id, inbound, raw)
        if question is not None:
            self._later(self._answer(conversation_id, question, inbound))
        return Verdict(250, "2.0.0 Received", conversation_id)

    async def _thread(self, inbound: Inbound, recipients: Sequence[str]) -> str:
        """The conversation this email continues (new: created); refuses a stranger."""
        head = self.letterhead
        named: str | None = None
        for recipient in recipients:
            try:
                named = (
                    read_reply_address(
                        recipient, support=head.support, domain=head.domain, secret=head.secret
                    )
                    or named
                )
            except BadReplyAddress as error:
                raise _Refused(str(error), "This reply address is not valid.") from error
        if named is None:
            named = await self.chat.db(threads.find_thread, message_ids=inbound.thread_ids)
        if named is not None:
            owners = await self.chat.db(threads.addresses_of, conversation_id=named)
            if inbound.sender not in owners:
                raise _Refused(
                    f"{inbound.sender} tried to join conversation {named} "
                    f"of {', '.join(sorted(owners)) or 'nobody'}",
                    f"This conversation belongs to another address; write to {head.support} "
                    "to start a new one.",
                )
            return named
        return await self.chat.db(_open_conversation, address=inbound.sender)

    async def _store(
        self, conversation_id: str, inbound: Inbound, raw: bytes
    ) -> MessagePublic | None:
        """The customer message, committed with its email (idempotent on the Message-ID)."""
        text = inbound.text
        earlier = await self.chat.db(threads.thread_of, conversation_id=conversation_id)
        first = not earlier.message_ids
        if first and inbound.subject and inbound.subject.lower() not in text.lower():
            text = f"{inbound.subject}\n\n{text}".strip()
        if inbound.attachments:
            names = ", ".join(
                f"{item.filename} ({len(item.data)} bytes)" for item in inbound.attachments
            )
            text = f"{text}\n\n[attached: {names}]".strip()
        stored = await self.chat.db(
            _store_email,
            conversation_id=conversation_id,
            inbound=inbound,
            text=text or "(an empty email)",
            raw=raw,
        )
        if stored is None:
            return None  # the same email raced in twice; the first one is answered
        await self.chat.publish(conversation_id, message_event(stored))
        return stored

    async def _answer(
        self, conversation_id: str, question: MessagePublic, inbound: Inbound
    ) -> None:
        """The bot's turn, emailed: an answer with its sources, a request to rephrase, or a
        note that a person will answer. Nothing while a person owns the conversation."""
        replies = await self.chat.reply(conversation_id, question)
        state = (await self.chat.desk.state(conversation_id)).state
        refusals = _refusals(inbound.refused)
        for reply in replies:
            handed_off = reply.role == "system" and state == State.queued
            text = _HANDED_OFF if handed_off else reply.text
            await self.outbox.send(
                conversation_id,
                text + refusals,
                to=inbound.sender,
                citations=[c.model_dump() for c in reply.citations],
                automatic=True,
                seq=reply.seq,
            )
            refusals = ""
        if refusals:  # with a person: still say which files were not kept
            await self.outbox.send(
                conversation_id, refusals.strip(), to=inbound.sender, automatic=True
            )

    async def _record_in(
        self,
        raw: bytes,
        status: str,
        detail: str,
        *,
        inbound: Inbound | None = None,
        address: str | None = None,
    ) -> int:
        return await self.chat.db(
            threads.record_email,
            direction="in",
            status=status,
            message_id=inbound.message_id if inbound else None,
            address=inbound.sender if inbound else (address or ""),
            subject=inbound.subject if inbound else "",
            detail=detail,
            raw=raw,
        )

    # -- tasks ---------------------------------------------------------------------------

    def later(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run on the app's loop, from any thread (the agent side calls from worker threads)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._later(coroutine)
        else:
            self._loop.call_soon_threadsafe(self._later, coroutine)

    def _later(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("email: background work failed", exc_info=task.exception())

    @property
    def idle(self) -> bool:
        """Nothing being answered or sent right now."""
        return not self._tasks

    async def close(self) -> None:
        if self.inbox is not None:
            await self.inbox.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class _Refused(Exception):
    def __init__(self, why: str, told: str) -> None:
        super().__init__(why)
        self.told = told  # what the sending server (and so the sender) hears


def _refusals(refused: Sequence[Refusal]) -> str:
    if not refused:
        return ""
    lines = [f"- {item.filename}: {item.reason}" for item in refused]
    return "\n\nWe could not keep these attachments:\n" + "\n".join(lines)


def _open_conversation(*, session: Any, address: str) -> str:
    conversation = conversations.create_conversation(session=session, channel="email")
    conversations.set_contact(session=session, conversation_id=conversation.id, email=address)
    return conversation.id


def _store_email(
    *, session: Any, conversation_id: str, inbound: Inbound, text: str, raw: bytes
) -> MessagePublic | None:
    client_id = "email:" + hashlib.sha256(inbound.message_id.encode()).hexdigest()[:40]
    stored = conversations.add_message(
        session=session,
        conversation_id=conversation_id,
        role="customer",
        text=text,
        client_id=client_id,
    )
    if not stored.created:
        return None
    threads.record_email(
        session=session,
        direction="in",
        status="received",
        message_id=inbound.message_id,
        address=inbound.sender,
        subject=inbound.subject,
        conversation_id=conversation_id,
        seq=stored.message.seq,
        raw=raw,
        attachments=inbound.attachments,
    )
    return message_public(stored.message)


async def open_email(settings: Settings, chat: ChatService) -> EmailChannel | None:
    """The email channel when ``support_address`` is set (None otherwise), with its inbox
    receiving when ``inbox`` is "smtp". Close it with ``close()``."""
    if not settings.support_address:
        if settings.inbox != "off":
            log.warning("email: ALLHOURS_INBOX is set but ALLHOURS_SUPPORT_ADDRESS is not")
        return None
    channel = EmailChannel(chat=chat, settings=settings, mailer=Mailer(settings))
    if settings.inbox == "smtp":
        inbox = SmtpInbox(
            channel,
            host=settings.inbox_host,
            port=settings.inbox_port,
            max_bytes=settings.email_max_bytes,
            hostname=channel.letterhead.domain or None,
        )
        await inbox.start()
        channel.inbox = inbox
    return channel
