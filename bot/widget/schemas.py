"""What the widget sends and receives, over the WebSocket and its REST twin (docs/internals.md)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from bot.chat.events import MessagePublic

ClientId = Annotated[str, Field(min_length=1, max_length=64)]
# A message's sequence number, or "after" one: at most the largest integer SQLite and
# PostgreSQL (BIGINT) store, so a larger one is a validation error, never a database error.
MAX_SEQ = 2**63 - 1
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
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
    seq: Seq
    value: Literal["up", "down"]


class RatingCreate(BaseModel):
    value: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class ContactCreate(BaseModel):
    email: Email


class MessagePosted(BaseModel):
    message: MessagePublic  # the customer's message as stored
    duplicate: bool  # True: this client_id was stored before; nothing new was stored
    replies: list[MessagePublic]  # what the company said in return (empty while a human owns it)


class ErrorPublic(BaseModel):
    code: str
    message: str
