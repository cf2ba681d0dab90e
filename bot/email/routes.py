"""``POST /api/conversations/{id}/email``: the widget's "email me this conversation".

The widget's bearer token authorises it, like the widget's own routes. Rate-limited, and a
few per conversation at most: the route sends mail to an address the caller chooses.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AfterValidator, BaseModel

from bot.chat import conversations
from bot.chat.ratelimit import RateLimited
from bot.chat.service import ChatError, ChatService
from bot.chat.tokens import BadToken

router = APIRouter(prefix="/api/conversations", tags=["widget"])
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str) -> str:
    value = value.strip()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


class TranscriptEmail(BaseModel):
    email: Annotated[str, AfterValidator(_check_email)]


def _error(code: int, kind: str, message: str) -> HTTPException:
    return HTTPException(code, detail={"code": kind, "message": message})


@router.post("/{conversation_id}/email", status_code=status.HTTP_202_ACCEPTED)
async def email_conversation(
    conversation_id: str, body: TranscriptEmail, request: Request
) -> dict[str, bool]:
    chat: ChatService = request.app.state.chat
    channel = getattr(request.app.state, "email", None)
    header = request.headers.get("authorization", "")
    try:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise BadToken("a Bearer token is required")
        chat.tokens.verify(token, conversation_id=conversation_id)
        if await chat.db(conversations.get_conversation, conversation_id=conversation_id) is None:
            raise BadToken("the conversation no longer exists")
    except BadToken as error:
        raise _error(401, "bad_token", str(error)) from error
    if channel is None:
        raise _error(404, "unavailable", "Email is not set up on this server.")
    ip = request.client.host if request.client else "unknown"
    try:
        await chat.check_rate(ip=ip, conversation_id=conversation_id)
        channel.transcripts.check(ip=ip, conversation_id=conversation_id)
    except (ChatError, RateLimited) as error:
        retry = getattr(error, "retry_after_s", None)
        headers = {"Retry-After": str(max(1, round(retry)))} if retry else None
        detail = {"code": "rate_limited", "message": "Too many requests; try again later."}
        raise HTTPException(429, detail=detail, headers=headers) from error
    outcome = await channel.outbox.email_transcript(conversation_id, body.email)
    if outcome == "too_often":
        raise _error(429, "rate_limited", "This conversation was emailed too often.")
    if outcome == "failed":
        raise _error(503, "unavailable", "The email could not be sent; please try again later.")
    return {"sent": True}
