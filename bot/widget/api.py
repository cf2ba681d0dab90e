"""The widget's REST twin, for clients without WebSockets: ``Authorization: Bearer <token>``.

Errors answer ``{"detail": {"code", "message"}}`` with the codes of the socket protocol.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.chat import conversations
from bot.chat.events import MessagePublic, StatePublic
from bot.chat.service import ChatError, ChatService
from bot.chat.tokens import BadToken
from bot.widget.schemas import (
    MAX_SEQ,
    ContactCreate,
    ConversationCreate,
    ConversationCreated,
    FeedbackCreate,
    MessageCreate,
    MessagePosted,
    RatingCreate,
)
from handoff.states import IllegalTransition

router = APIRouter(prefix="/api/conversations", tags=["widget"])
_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/conversations")

_STATUS = {
    "empty": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "invalid": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "too_long": status.HTTP_413_CONTENT_TOO_LARGE,
    "rate_limited": status.HTTP_429_TOO_MANY_REQUESTS,
    "bad_token": status.HTTP_401_UNAUTHORIZED,
}


def _chat(request: Request) -> ChatService:
    return request.app.state.chat


ChatDep = Annotated[ChatService, Depends(_chat)]


def _fail(error: ChatError) -> HTTPException:
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else None
    detail = {"code": error.code, "message": error.message}
    return HTTPException(_STATUS.get(error.code, 400), detail=detail, headers=headers)


async def _conversation(
    conversation_id: str,
    chat: ChatDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The path's conversation, if the bearer token was issued for it."""
    try:
        if credentials is None:
            raise BadToken("a Bearer token is required")
        chat.tokens.verify(credentials.credentials, conversation_id=conversation_id)
        found = await chat.db(conversations.get_conversation, conversation_id=conversation_id)
        if found is None:
            raise BadToken("the conversation no longer exists")
    except BadToken as error:
        raise _fail(ChatError("bad_token", str(error))) from error
    return conversation_id


ConversationDep = Annotated[str, Depends(_conversation)]


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _lang(chat: ChatService, conversation_id: str) -> str:
    found = await chat.db(conversations.get_conversation, conversation_id=conversation_id)
    return found.lang if found else "en"


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(
    request: Request, chat: ChatDep, body: ConversationCreate | None = None
) -> ConversationCreated:
    """Start a conversation; the token authorises everything else about it."""
    try:
        await chat.check_rate(ip=_ip(request))
    except ChatError as error:
        raise _fail(error) from error
    lang = body.lang if body else "en"
    conversation = await chat.db(conversations.create_conversation, lang=lang)
    return ConversationCreated(
        conversation_id=conversation.id, token=chat.tokens.issue(conversation.id)
    )


@router.post("/{conversation_id}/messages")
async def post_message(
    conversation_id: ConversationDep,
    body: MessageCreate,
    request: Request,
    response: Response,
    chat: ChatDep,
) -> MessagePosted:
    """Store a customer message (idempotent on ``client_id``) and wait for the company's reply."""
    try:
        stored, duplicate, needs_reply = await chat.receive(
            conversation_id=conversation_id,
            client_id=body.client_id,
            text=body.text,
            ip=_ip(request),
        )
    except ChatError as error:
        raise _fail(error) from error
    response.status_code = status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED
    replies = (
        await chat.reply(conversation_id, stored, unless_answered=duplicate) if needs_reply else []
    )
    return MessagePosted(message=stored, duplicate=duplicate, replies=replies)


@router.get("/{conversation_id}/messages")
async def list_messages(
    conversation_id: ConversationDep,
    chat: ChatDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> list[MessagePublic]:
    """Every stored message with a sequence number above ``after``, oldest first."""
    return await chat.history(conversation_id, after)


@router.get("/{conversation_id}/state")
async def get_state(conversation_id: ConversationDep, chat: ChatDep) -> StatePublic:
    return await chat.desk.state(conversation_id)


@router.post("/{conversation_id}/feedback", status_code=status.HTTP_204_NO_CONTENT)
async def post_feedback(
    conversation_id: ConversationDep, body: FeedbackCreate, chat: ChatDep
) -> None:
    try:
        await chat.db(
            conversations.record_feedback,
            conversation_id=conversation_id,
            seq=body.seq,
            value=body.value,
        )
    except LookupError as error:
        raise _fail(ChatError("invalid", str(error))) from error


@router.post("/{conversation_id}/rating", status_code=status.HTTP_204_NO_CONTENT)
async def post_rating(conversation_id: ConversationDep, body: RatingCreate, chat: ChatDep) -> None:
    await chat.db(
        conversations.record_rating,
        conversation_id=conversation_id,
        value=body.value,
        comment=body.comment,
    )


@router.post("/{conversation_id}/handoff")
async def request_handoff(
    conversation_id: ConversationDep, request: Request, chat: ChatDep
) -> list[MessagePublic]:
    """The "Talk to a person" control: queue the conversation for an agent."""
    try:
        await chat.check_rate(ip=_ip(request), conversation_id=conversation_id)
    except ChatError as error:
        raise _fail(error) from error
    return await chat.desk.request(conversation_id, await _lang(chat, conversation_id))


@router.delete("/{conversation_id}/handoff")
async def cancel_handoff(conversation_id: ConversationDep, chat: ChatDep) -> list[MessagePublic]:
    """Stop waiting for an agent (only while queued)."""
    try:
        return await chat.desk.cancel(conversation_id, await _lang(chat, conversation_id))
    except IllegalTransition as error:
        raise _fail(ChatError("invalid", str(error))) from error


@router.post("/{conversation_id}/contact")
async def post_contact(
    conversation_id: ConversationDep, body: ContactCreate, request: Request, chat: ChatDep
) -> list[MessagePublic]:
    """Leave an email address, for when no one is online."""
    try:
        await chat.check_rate(ip=_ip(request), conversation_id=conversation_id)
    except ChatError as error:
        raise _fail(error) from error
    lang = await _lang(chat, conversation_id)
    return await chat.desk.contact(conversation_id, lang, body.email)
