"""Emails in and out, kept with the conversation they belong to, and inbound attachments.

Every inbound email is stored whole (``raw``) before anything else happens to it, also the
ones that are refused, ignored or cannot be parsed: nothing a customer sent is lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.chat.models import Base, utcnow

DIRECTIONS = ("in", "out")
# in: received (a conversation message), ignored (auto-reply, bounce, duplicate: never
# answered), refused (a thread it may not join), malformed. out: sent, failed.
STATUSES = ("received", "ignored", "refused", "malformed", "sent", "failed")


class EmailRecord(Base):
    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The RFC 5322 Message-ID without angle brackets; threads are found by it. Not unique:
    # a malformed message may have none, and a refused one may reuse another's.
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int | None] = mapped_column(Integer)  # the conversation message it carried
    address: Mapped[str] = mapped_column(String(320), default="", nullable=False)  # the customer
    subject: Mapped[str] = mapped_column(Text, default="", nullable=False)
    detail: Mapped[str] = mapped_column(Text, default="", nullable=False)  # why, for people
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # inbound only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EmailAttachment(Base):
    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_id: Mapped[int] = mapped_column(
        ForeignKey("email_messages.id", ondelete="CASCADE"), index=True, nullable=False
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
