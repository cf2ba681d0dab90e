"""The document store: knowledge-base documents and every version of them.

The database is the source of truth; Chroma is an index rebuilt from the current versions.
Versions are append-only, so any earlier text can be shown, compared and restored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """retrieval's own metadata; bot's Alembic environment includes it."""


def _now() -> datetime:
    return datetime.now(UTC)


class KbDocument(Base):
    """One document as the editor lists it: its current version and its index state."""

    __tablename__ = "kb_documents"

    doc_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # the current version
    title: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2000), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(10), default="md")
    deleted: Mapped[bool] = mapped_column(default=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    # pending: saved, not yet indexed; indexed; failed: the index refused it; removed: deleted
    index_state: Mapped[str] = mapped_column(String(10), default="pending")


class KbDocumentVersion(Base):
    """One saved text of a document; never changed once written."""

    __tablename__ = "kb_document_versions"
    __table_args__ = (UniqueConstraint("doc_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("kb_documents.doc_id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(2000), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(10), default="md")
    body: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
