"""What the widget sends and receives, over the WebSocket and its REST twin (docs/internals.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from bot.chat.models import Message

ClientId = Annotated[str, Field(min_length=1, max_length=64)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str) -> str:
    value = value.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


Email = Annotated[str, AfterValidator(_check_email)]


class ConversationCreate(BaseModel):
    lang: Literal["en", "zh"] = "en"  # the language of the bot's own notices


class ConversationCreated(BaseModel):
    conversation_id: str
    token: str


class MessageCreate(BaseModel):
    client_id: ClientId
    text: str  # length and emptiness are checked by the chat service, with their own codes


class FeedbackCreate(BaseModel):
    seq: int
    value: Literal["up", "down"]


class RatingCreate(BaseModel):
    value: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class ContactCreate(BaseModel):
    email: Email


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


class MessagePosted(BaseModel):
    message: MessagePublic  # the customer's message as stored
    duplicate: bool  # True: this client_id was stored before; nothing new was stored
    replies: list[MessagePublic]  # what the company said in return (empty while a human owns it)


class StatePublic(BaseModel):
    type: Literal["state"] = "state"
    state: Literal["bot", "queued", "agent", "resolved"]
    position: int | None = None
    eta_s: int | None = None
    agent: str | None = None
    offline: bool | None = None


class ErrorPublic(BaseModel):
    code: str
    message: str


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
