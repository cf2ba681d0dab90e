"""SQLAlchemy models of the bot package: conversations, their messages, feedback and ratings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ROLES = ("customer", "bot", "agent", "system")


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid4().hex


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_new_id)
    # The last sequence number handed out; bumped in the same transaction as the insert,
    # so a row lock (PostgreSQL) or the write lock (SQLite) orders concurrent writers.
    last_seq: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    lang: Mapped[str] = mapped_column(String(16), default="en", nullable=False)
    # How the customer reaches us: "widget" or "email" (replies go back the same way).
    channel: Mapped[str] = mapped_column(
        String(16), default="widget", server_default="widget", nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        # NULL client ids (bot, system, agent messages) never collide, on SQLite and PostgreSQL.
        UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
        CheckConstraint(f"role IN {ROLES}", name="ck_messages_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    client_id: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(120))  # the agent's display name
    # [{"n", "doc_id", "title", "url", "version"}]: the version pins what the bot read.
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, nullable=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    # What the policy decided on a bot turn (answer | clarify | handoff), and why: the next
    # turn's facts (low-confidence streak, already clarified) are read back from here.
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    """Thumbs up or down on one bot message; the customer may change their mind."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_feedback_conversation_seq"),
        CheckConstraint("value IN ('up', 'down')", name="ck_feedback_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[str] = mapped_column(String(8), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Rating(Base):
    """The 1-5 rating at the end of a chat: one per conversation, the latest wins."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("value BETWEEN 1 AND 5", name="ck_ratings_value"),)

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str] = mapped_column(Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
