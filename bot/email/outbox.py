"""What allhours emails the customer: the bot's answers (from the inbound side), agents'
replies when the customer reads email, and a transcript the widget asks for. Each email is
threaded on the conversation's earlier ones and recorded as sent or failed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.chat import conversations
from bot.chat.service import ChatService
from bot.config import Settings
from bot.email import threads
from bot.email.compose import Letterhead, compose, message_id_of, reply_subject
from bot.email.mailer import Mailer, MailError

log = logging.getLogger(__name__)

_TRANSCRIPTS_PER_CONVERSATION = 5  # "email me this conversation", against use as a spam relay


class Outbox:
    def __init__(self, *, chat: ChatService, settings: Settings, mailer: Mailer) -> None:
        self.chat, self.settings, self.mailer = chat, settings, mailer
        self.letterhead = Letterhead.from_settings(settings)

    async def reads_email(self, conversation_id: str) -> str | None:
        """The address to email an agent's reply to, if the customer reads email now: the
        conversation came by email, or a widget customer who left an address has no widget
        open on any process."""
        conversation = await self.chat.db(_conversation, conversation_id=conversation_id)
        if conversation is None or not conversation[1]:
            return None
        channel, address = conversation
        if channel != "email" and await self.chat.widgets.is_open(conversation_id):
            return None  # they read it in the widget now
        return address

    async def agent_replied(
        self, conversation_id: str, message: dict[str, Any], *, to: str
    ) -> None:
        author = message.get("author") or "Our team"
        await self.send(
            conversation_id,
            f"{message['text']}\n\n{author}",
            to=to,
            seq=message.get("seq"),
        )

    async def email_transcript(self, conversation_id: str, address: str) -> str:
        """The widget's "email me this conversation": "sent", "failed" (the relay refused or
        is down) or "too_often" (this conversation asked too many times)."""
        detail = "transcript"
        sent = await self.chat.db(
            threads.count_sent, conversation_id=conversation_id, detail=detail
        )
        if sent >= _TRANSCRIPTS_PER_CONVERSATION:
            return "too_often"
        messages = await self.chat.history(conversation_id, 0)
        company = self.settings.company_name
        lines = [f"Your conversation with {company}:", ""]
        for message in messages:
            who = {"customer": "You", "bot": f"{company} (bot)", "system": company}.get(
                message.role, message.author or company
            )
            lines += [f"{who}:", message.text, ""]
        citations = [c.model_dump() for m in messages for c in m.citations]
        unique = list({(c["url"] or c["doc_id"]): c for c in citations}.values())
        done = await self.send(
            conversation_id,
            "\n".join(lines).strip(),
            to=address,
            citations=unique,
            subject=f"Your conversation with {company}",
            detail=detail,
        )
        return "sent" if done else "failed"

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        to: str,
        citations: Sequence[dict[str, Any]] = (),
        automatic: bool = False,
        seq: int | None = None,
        subject: str = "",
        detail: str = "",
    ) -> bool:
        """Email the customer, threaded on the conversation's earlier emails; recorded as
        sent or failed (a failure is logged: the message itself is stored either way)."""
        thread = await self.chat.db(threads.thread_of, conversation_id=conversation_id)
        fallback = f"Your conversation with {self.settings.company_name}"
        email = compose(
            letterhead=self.letterhead,
            to=to,
            subject=subject or reply_subject(thread.subject, fallback),
            text=text,
            conversation_id=conversation_id,
            citations=citations,
            thread=[] if subject else thread.message_ids,
            answering=thread.answering,
            automatic=automatic,
            now=datetime.now(UTC),
        )
        status, error = "sent", ""
        try:
            await self.mailer.send(email)
        except MailError as failure:
            status, error = "failed", str(failure)
            log.warning(
                "email: could not send to %s (conversation %s): %s", to, conversation_id, failure
            )
        await self.chat.db(
            threads.record_email,
            direction="out",
            status=status,
            message_id=message_id_of(email),
            address=to,
            subject=str(email["Subject"]),
            detail=detail or error,  # a transcript stays "transcript": it counts to the cap
            conversation_id=conversation_id,
            seq=seq,
        )
        return status == "sent"


def _conversation(*, session: Any, conversation_id: str) -> tuple[str, str] | None:
    found = conversations.get_conversation(session=session, conversation_id=conversation_id)
    return (found.channel, found.contact_email or "") if found is not None else None
