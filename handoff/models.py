"""Tables owned by handoff. No foreign keys into other packages' tables: plain ids only.

The conversation's state is its ticket's state; a conversation without a ticket is ``bot``.
One ticket per conversation: a later handoff reuses the row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from handoff.states import State


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Ticket(Base):
    """A conversation's handoff record; ``state`` is the conversation's state."""

    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), default=State.bot, nullable=False, index=True)
    reason: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)  # needed skills
    lang: Mapped[str | None] = mapped_column(String(16))  # the customer's language, e.g. "en"
    # The conversation's channel ("widget" | "email"): shown to agents, a routing criterion.
    channel: Mapped[str] = mapped_column(
        String(16), default="widget", server_default="widget", nullable=False
    )
    contact_email: Mapped[str | None] = mapped_column(String(320))
    packet: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    offline: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handled_s: Mapped[int | None] = mapped_column(Integer)  # claim to resolve, last time; for ETAs
    handoffs: Mapped[int] = mapped_column(Integer, default=0, nullable=False)  # times queued
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    # Optimistic locking: an ORM update of a row someone changed meanwhile raises
    # StaleDataError instead of overwriting; claim() bumps it in its compare-and-set.
    __mapper_args__ = {"version_id_col": version}


class AgentStatus(Base):
    __tablename__ = "handoff_agents"

    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    presence: Mapped[str] = mapped_column(String(16), default="offline", nullable=False)
    capacity: Mapped[int] = mapped_column(Integer, default=3, nullable=False)  # concurrent chats
    skills: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Note(Base):
    """An internal note on a conversation: agents only, never sent to the customer."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    agent_id: Mapped[str] = mapped_column(String(64), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class HandoffEvent(Base):
    """One move of a conversation through the queue. The ticket keeps only the latest handoff;
    this log keeps every one, for the reports (waits, abandonment, first replies, load)."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    # queued | claimed | transferred | requeued | returned | cancelled | resolved | reopened
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True, nullable=False)
    agent_id: Mapped[str | None] = mapped_column(String(64))  # who claimed, held or resolved
    reason: Mapped[str | None] = mapped_column(String(32))  # a handoff's reason


class SupervisorAlert(Base):
    """A stretch of time when the queue was longer than the alert length: opened when it
    grows past it, closed when it falls back, so supervisors can look back at them."""

    __tablename__ = "handoff_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    peak: Mapped[int] = mapped_column(Integer, nullable=False)  # the longest queue meanwhile
    alert_length: Mapped[int] = mapped_column(Integer, nullable=False)  # the limit then
    # 1 while the alert is open, NULL once closed: unique, so when two processes see the
    # queue pass the limit at once the database keeps one open alert (NULLs never clash).
    open_slot: Mapped[int | None] = mapped_column(Integer, unique=True)


class CannedResponse(Base):
    __tablename__ = "handoff_canned_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shortcut: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)  # "/refund"
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    lang: Mapped[str | None] = mapped_column(String(16))
