"""Conversations and their messages: plain functions over a keyword-only session.

Every write commits before it returns, because a message is acknowledged or delivered only
once it is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.chat.models import ROLES, Conversation, Feedback, Message, Rating
from bot.db import session_now

Turn = tuple[str, str]  # (role, text), the engine's history format
Row = TypeVar("Row", Feedback, Rating)


class ConversationNotFound(LookupError):
    pass


class Stored(NamedTuple):
    message: Message
    created: bool  # False: the client_id was seen before and this is the stored message


def create_conversation(
    *, session: Session, lang: str = "en", channel: str = "widget"
) -> Conversation:
    now = session_now(session)
    conversation = Conversation(lang=lang, channel=channel, created_at=now, updated_at=now)
    session.add(conversation)
    session.commit()
    return conversation


def get_conversation(*, session: Session, conversation_id: str) -> Conversation | None:
    return session.get(Conversation, conversation_id)


def add_message(
    *,
    session: Session,
    conversation_id: str,
    role: str,
    text: str,
    client_id: str | None = None,
    author: str | None = None,
    citations: Sequence[dict[str, Any]] = (),
    confidence: float | None = None,
    signals: dict[str, Any] | None = None,
    decision: str | None = None,
    reason: str | None = None,
) -> Stored:
    """Store a message under the next sequence number; idempotent on ``client_id``."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if client_id is not None:
        existing = _by_client_id(session, conversation_id, client_id)
        if existing is not None:
            return Stored(existing, False)
    try:
        seq = _next_seq(session, conversation_id)
        message = Message(
            conversation_id=conversation_id,
            seq=seq,
            role=role,
            text=text,
            client_id=client_id,
            author=author,
            citations=list(citations),
            confidence=confidence,
            signals=signals,
            decision=decision,
            reason=reason,
            created_at=session_now(session),
        )
        session.add(message)
        session.commit()
    except IntegrityError:
        # Another request stored the same client_id between our lookup and our insert.
        session.rollback()
        existing = _by_client_id(session, conversation_id, client_id) if client_id else None
        if existing is None:
            raise
        return Stored(existing, False)
    return Stored(message, True)


def _by_client_id(session: Session, conversation_id: str, client_id: str) -> Message | None:
    query = select(Message).where(
        Message.conversation_id == conversation_id, Message.client_id == client_id
    )
    return session.scalars(query).first()


def _next_seq(session: Session, conversation_id: str) -> int:
    # An atomic increment: PostgreSQL locks the row and SQLite takes its write lock here,
    # so two writers never get the same number and the lock is held only until commit.
    statement = (
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, updated_at=session_now(session))
        .returning(Conversation.last_seq)
        .execution_options(synchronize_session=False)
    )
    seq = session.execute(statement).scalar_one_or_none()
    if seq is None:
        raise ConversationNotFound(conversation_id)
    return seq


def messages_after(
    *, session: Session, conversation_id: str, after: int = 0, limit: int | None = None
) -> list[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(session.scalars(query))


def transcript(*, session: Session, conversation_id: str, last: int | None = None) -> list[Turn]:
    """The conversation as (role, text) turns, oldest first; ``last`` keeps only the tail."""
    query = select(Message.role, Message.text).where(Message.conversation_id == conversation_id)
    if last is not None:
        query = query.order_by(Message.seq.desc()).limit(last)
        return [(role, text) for role, text in reversed(session.execute(query).all())]
    return [(role, text) for role, text in session.execute(query.order_by(Message.seq)).all()]


def record_feedback(*, session: Session, conversation_id: str, seq: int, value: str) -> Feedback:
    """Thumbs up/down on a bot message of this conversation; a second vote replaces the first."""
    if value not in ("up", "down"):
        raise ValueError("feedback is 'up' or 'down'")
    target = session.scalars(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.seq == seq, Message.role == "bot"
        )
    ).first()
    if target is None:
        raise LookupError(f"no bot message {seq} in this conversation")
    query = select(Feedback).where(Feedback.conversation_id == conversation_id, Feedback.seq == seq)
    return _upsert(
        session,
        lambda: session.scalars(query).first(),
        lambda: Feedback(conversation_id=conversation_id, seq=seq),
        value=value,
        created_at=session_now(session),
    )


def record_rating(
    *, session: Session, conversation_id: str, value: int, comment: str = ""
) -> Rating:
    if not 1 <= value <= 5:
        raise ValueError("a rating is from 1 to 5")
    if get_conversation(session=session, conversation_id=conversation_id) is None:
        raise ConversationNotFound(conversation_id)
    return _upsert(
        session,
        lambda: session.get(Rating, conversation_id, populate_existing=True),
        lambda: Rating(conversation_id=conversation_id),
        value=value,
        comment=comment,
        created_at=session_now(session),
    )


def _upsert(
    session: Session, load: Callable[[], Row | None], make: Callable[[], Row], **values: Any
) -> Row:
    row = load() or make()
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    try:
        session.commit()
        return row
    except IntegrityError:
        # Two votes raced to insert the same row: the loser updates the winner's row.
        session.rollback()
    row = load()
    if row is None:
        raise LookupError("the row vanished while being updated")
    for name, value in values.items():
        setattr(row, name, value)
    session.commit()
    return row


def set_contact(*, session: Session, conversation_id: str, email: str) -> Conversation:
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    conversation.contact_email = email
    session.commit()
    return conversation
