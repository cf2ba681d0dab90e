"""The stored emails of a conversation: record one, find the conversation an email answers,
and the Message-IDs that thread the next reply. Plain functions over a keyword-only session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.chat.models import Conversation
from bot.email.models import EmailAttachment, EmailRecord
from bot.email.parse import Attachment

_THREADED = ("received", "sent")  # refused or ignored mail joins no thread


def record_email(
    *,
    session: Session,
    direction: str,
    status: str,
    message_id: str | None,
    address: str = "",
    subject: str = "",
    detail: str = "",
    conversation_id: str | None = None,
    seq: int | None = None,
    raw: bytes | None = None,
    attachments: Sequence[Attachment] = (),
) -> int:
    record = EmailRecord(
        direction=direction,
        status=status,
        message_id=message_id,
        address=address[:320],
        subject=subject,
        detail=detail,
        conversation_id=conversation_id,
        seq=seq,
        raw=raw,
    )
    session.add(record)
    session.flush()
    for item in attachments:
        session.add(
            EmailAttachment(
                email_id=record.id,
                filename=item.filename,
                content_type=item.content_type[:255],
                size=len(item.data),
                data=item.data,
            )
        )
    session.commit()
    return record.id


def find_thread(*, session: Session, message_ids: Sequence[str]) -> str | None:
    """The conversation of the nearest stored email among ``message_ids`` (nearest first)."""
    if not message_ids:
        return None
    query = select(EmailRecord.message_id, EmailRecord.conversation_id).where(
        EmailRecord.message_id.in_(list(message_ids)),
        EmailRecord.status.in_(_THREADED),
        EmailRecord.conversation_id.is_not(None),
    )
    found = dict(session.execute(query).all())
    return next((found[item] for item in message_ids if item in found), None)


def already_received(*, session: Session, message_id: str, address: str) -> bool:
    """The same email again (a sending server retried after we had stored it)."""
    query = select(func.count(EmailRecord.id)).where(
        EmailRecord.direction == "in",
        EmailRecord.message_id == message_id,
        EmailRecord.address == address,
        EmailRecord.status.in_(_THREADED),
    )
    return bool(session.scalar(query))


class Thread(NamedTuple):
    message_ids: list[str]  # oldest first
    subject: str  # the first email's
    answering: str | None  # the customer's latest email: what the next reply answers


def thread_of(*, session: Session, conversation_id: str) -> Thread:
    query = (
        select(EmailRecord.message_id, EmailRecord.subject, EmailRecord.direction)
        .where(
            EmailRecord.conversation_id == conversation_id,
            EmailRecord.status.in_(_THREADED),
            EmailRecord.message_id.is_not(None),
        )
        .order_by(EmailRecord.id)
    )
    rows = session.execute(query).all()
    inbound = [message_id for message_id, _, direction in rows if direction == "in"]
    return Thread(
        [message_id for message_id, _, _ in rows if message_id],
        rows[0][1] if rows else "",
        inbound[-1] if inbound else None,
    )


def count_sent(*, session: Session, conversation_id: str, detail: str) -> int:
    query = select(func.count(EmailRecord.id)).where(
        EmailRecord.conversation_id == conversation_id,
        EmailRecord.direction == "out",
        EmailRecord.detail == detail,
    )
    return session.scalar(query) or 0


def addresses_of(*, session: Session, conversation_id: str) -> set[str]:
    """Who may write into the conversation by email: its contact address and every address
    its emails came from or went to. Empty for an unknown conversation."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return set()
    query = select(EmailRecord.address).where(
        EmailRecord.conversation_id == conversation_id, EmailRecord.status.in_(_THREADED)
    )
    found = {address.lower() for address in session.scalars(query) if address}
    return found | ({conversation.contact_email.lower()} if conversation.contact_email else set())
