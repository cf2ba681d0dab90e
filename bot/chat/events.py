"""What a conversation publishes on the hub, to the widget and (through the port) to the
agent console: a stored message and the conversation's state (docs/internals.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from bot.chat.models import Message


class CitationPublic(BaseModel):
    n: int
    doc_id: str
    title: str = ""
    url: str = ""
    version: int | None = None


class MessagePublic(BaseModel):
    """A stored message. Text is plain text, never HTML: the widget escapes what it shows."""

    type: Literal["message"] = "message"
    seq: int
    role: Literal["customer", "bot", "agent", "system"]
    text: str
    client_id: str | None = None
    citations: list[CitationPublic] = []
    confidence: float | None = None
    author: str | None = None
    created_at: datetime
    stream_id: str | None = None  # set live on a streamed bot answer, not on replay


class StatePublic(BaseModel):
    type: Literal["state"] = "state"
    state: Literal["bot", "queued", "agent", "resolved"]
    position: int | None = None
    eta_s: int | None = None
    agent: str | None = None
    offline: bool | None = None


def message_public(message: Message, *, stream_id: str | None = None) -> MessagePublic:
    created = message.created_at
    if created.tzinfo is None:  # SQLite hands back naive datetimes; they are stored in UTC
        created = created.replace(tzinfo=UTC)
    return MessagePublic(
        seq=message.seq,
        role=message.role,  # type: ignore[arg-type]
        text=message.text,
        client_id=message.client_id,
        citations=[CitationPublic.model_validate(c) for c in message.citations],
        confidence=message.confidence,
        author=message.author,
        created_at=created,
        stream_id=stream_id,
    )


def message_event(message: MessagePublic) -> dict[str, Any]:
    """The JSON event of a stored message, without the fields that do not apply."""
    return message.model_dump(mode="json", exclude_none=True)
