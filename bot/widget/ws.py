"""``WS /ws/widget?token=…&after=N``: the widget's real-time channel (docs/internals.md).

On connect: check the Origin, then the token (a bad one closes with 4401), replay what the
client missed (seq > after), send the conversation's state, then follow live events. A bad
message gets an ``error`` event and the socket stays open.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from bot.chat import conversations
from bot.chat.events import message_event
from bot.chat.hub import HubOverflow, Subscription, conversation_channel
from bot.chat.service import ChatError, ChatService
from bot.chat.tokens import BadToken
from bot.widget.frames import event_type, frame_limit, read_frame
from bot.widget.schemas import (
    ContactCreate,
    FeedbackCreate,
    MessageCreate,
    RatingCreate,
    Seq,
)
from handoff.states import IllegalTransition

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_BAD_TOKEN = 4401
CLOSE_BAD_ORIGIN = 4403
CLOSE_TRY_AGAIN = 1013  # the socket fell behind the live events: reconnect and replay
CLOSE_INVALID = 1008  # the connection's own parameters are wrong (``after``)
_AFTER = TypeAdapter(Seq)
_ROLES = {"customer", "bot", "agent", "system"}
_TYPING_EVERY_S = 2.0  # the customer's typing is passed on at most this often


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    # No Origin header: not a browser, so there is no page to protect; the token still counts.
    return origin is None or "*" in allowed or origin in allowed


@router.websocket("/ws/widget")
async def widget_socket(websocket: WebSocket, token: str = "", after: str = "0") -> None:
    chat: ChatService = websocket.app.state.chat
    if not origin_allowed(websocket.headers.get("origin"), chat.settings.allowed_origins):
        await websocket.close(code=CLOSE_BAD_ORIGIN)  # before accept: the handshake fails
        return
    await websocket.accept()
    try:
        conversation_id = chat.tokens.verify(token)
        conversation = await chat.db(
            conversations.get_conversation, conversation_id=conversation_id
        )
        if conversation is None:
            raise BadToken("the conversation no longer exists")
    except BadToken as error:
        await websocket.send_json({"type": "error", "code": "bad_token", "message": str(error)})
        await websocket.close(code=CLOSE_BAD_TOKEN)
        return
    try:
        # Read here, not by FastAPI: a bad value gets an error event the widget understands.
        seen = _AFTER.validate_python(after)
    except ValidationError as error:
        message = f"after: {error.errors()[0]['msg']}"
        await websocket.send_json({"type": "error", "code": "invalid", "message": message})
        await websocket.close(code=CLOSE_INVALID)
        return
    ip = websocket.client.host if websocket.client else "unknown"
    session = _WidgetSession(websocket, chat, conversation_id, conversation.lang, ip)
    await chat.widgets.opened(conversation_id, session.id)
    try:
        await session.run(seen)
    except* WebSocketDisconnect:
        pass  # the customer left while we were sending: nothing is owed to a closed socket
    finally:
        with anyio.CancelScope(shield=True):  # the socket is gone; its count must go too
            await chat.widgets.closed(conversation_id, session.id)


class _WidgetSession:
    def __init__(
        self, websocket: WebSocket, chat: ChatService, conversation_id: str, lang: str, ip: str
    ) -> None:
        self.websocket, self.chat = websocket, chat
        self.conversation_id, self.lang, self.ip = conversation_id, lang, ip
        self.id = uuid.uuid4().hex
        self.replayed_upto = 0
        self.own_client_ids: set[str] = set()  # acknowledged here, so not echoed back
        self._send_lock = asyncio.Lock()
        self._last_typing = 0.0
        self.frame_limit = frame_limit(chat.settings.max_message_chars)

    async def send(self, event: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_json(event)

    async def run(self, after: int) -> None:
        # Subscribe before reading the database: whatever is stored after the read arrives
        # live, whatever arrives twice is dropped by its sequence number.
        async with self.chat.hub.subscribe(conversation_channel(self.conversation_id)) as events:
            missed = await self.chat.history(self.conversation_id, after)
            for message in missed:
                await self.send(message_event(message))
            self.replayed_upto = missed[-1].seq if missed else after
            state = await self.chat.desk.state(self.conversation_id)
            await self.send(state.model_dump(exclude_none=True))
            await self.chat.resume(self.conversation_id)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._forward, events)
                if self.chat.widgets.renew_every_s is not None:
                    tasks.start_soon(self._renew, self.chat.widgets.renew_every_s)
                await self._receive()
                tasks.cancel_scope.cancel()

    async def _renew(self, every_s: float) -> None:
        while True:
            await anyio.sleep(every_s)
            await self.chat.widgets.still_open(self.conversation_id, self.id)

    async def _forward(self, events: Subscription) -> None:
        try:
            async for event in events:
                if self._wanted(event):
                    await self.send(event)
        except HubOverflow:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(code=CLOSE_TRY_AGAIN)

    def _wanted(self, event: dict[str, Any]) -> bool:
        match event.get("type"):
            case "message":
                if event.get("role") not in _ROLES or event["seq"] <= self.replayed_upto:
                    return False
                own = event.get("role") == "customer" and event.get("client_id")
                return not (own and event["client_id"] in self.own_client_ids)
            case "typing":
                return event.get("role") in ("bot", "agent")
            case "token" | "stream_aborted" | "state":
                return True
        return False  # anything else on the channel is for the agents

    async def _receive(self) -> None:
        while True:
            frame = await self.websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            try:
                await self._handle(frame)
            except ChatError as error:
                event = {"type": "error", "code": error.code, "message": error.message}
                if error.retry_after_s is not None:
                    event["retry_after_s"] = error.retry_after_s
                if error.client_id is not None:
                    event["client_id"] = error.client_id
                await self.send(event)

    async def _handle(self, frame: dict[str, Any]) -> None:
        data = read_frame(frame, limit=self.frame_limit)
        handler = self._handlers[event_type(data, set(self._handlers))]
        client_id = data.get("client_id")
        try:
            await handler(self, data)
        except ChatError as error:
            # Name the refused message, so the widget knows which one to stop re-sending.
            error.client_id = client_id if isinstance(client_id, str) else None
            raise
        except ValidationError as error:
            raise ChatError("invalid", _describe(error)) from error
        except (LookupError, IllegalTransition, ValueError) as error:
            raise ChatError("invalid", str(error)) from error
        except SQLAlchemyError as error:
            # The database is down or busy: nothing was acknowledged, so the widget retries.
            log.warning("widget: database error: %s", error)
            unavailable = ChatError("unavailable", "Please try again in a moment.")
            unavailable.client_id = client_id if isinstance(client_id, str) else None
            raise unavailable from error

    async def _on_message(self, data: dict[str, Any]) -> None:
        message = MessageCreate.model_validate(data)
        self.own_client_ids.add(message.client_id)
        stored, duplicate, needs_reply = await self.chat.receive(
            conversation_id=self.conversation_id,
            client_id=message.client_id,
            text=message.text,
            ip=self.ip,
        )
        await self.send({"type": "ack", "client_id": message.client_id, "seq": stored.seq})
        if needs_reply:
            self.chat.reply_later(self.conversation_id, stored, unless_answered=duplicate)

    async def _on_typing(self, data: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last_typing >= _TYPING_EVERY_S:
            self._last_typing = now
            await self.chat.typing(self.conversation_id)

    async def _on_feedback(self, data: dict[str, Any]) -> None:
        feedback = FeedbackCreate.model_validate(data)
        await self.chat.db(
            conversations.record_feedback,
            conversation_id=self.conversation_id,
            seq=feedback.seq,
            value=feedback.value,
        )

    async def _on_rating(self, data: dict[str, Any]) -> None:
        rating = RatingCreate.model_validate(data)
        await self.chat.db(
            conversations.record_rating,
            conversation_id=self.conversation_id,
            value=rating.value,
            comment=rating.comment,
        )

    async def _on_handoff_request(self, data: dict[str, Any]) -> None:
        await self.chat.check_rate(ip=self.ip, conversation_id=self.conversation_id)
        await self.chat.desk.request(self.conversation_id, self.lang)

    async def _on_cancel_handoff(self, data: dict[str, Any]) -> None:
        await self.chat.desk.cancel(self.conversation_id, self.lang)

    async def _on_contact(self, data: dict[str, Any]) -> None:
        contact = ContactCreate.model_validate(data)
        await self.chat.check_rate(ip=self.ip, conversation_id=self.conversation_id)
        await self.chat.desk.contact(self.conversation_id, self.lang, contact.email)

    _handlers = {
        "message": _on_message,
        "typing": _on_typing,
        "feedback": _on_feedback,
        "rating": _on_rating,
        "handoff_request": _on_handoff_request,
        "cancel_handoff": _on_cancel_handoff,
        "contact": _on_contact,
    }


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the event"
    return f"{where}: {first['msg']}"
