"""``WS /ws/agent``: the console's real-time channel.

Server -> console: ``hello`` (who I am), ``queue`` (the queue, my conversations and the team:
sent on connect, after every change and when the SLA or alert state moves), the agents'
channel events as they come (``queued``, ``claimed``, ``released``, ``transferred``,
``cancelled``, ``contact``, ``presence``, ``note``, and ``message`` for a customer's message to
a conversation a human owns), ``sla_breach``, ``alert`` (supervisors only), and for the
conversation being watched: ``message``, the customer's ``typing`` and ``state``.

Console -> server: ``{"type":"watch","conversation_id"}`` (follow one conversation),
``{"type":"typing","conversation_id","on"}`` (shown to the customer when the agent owns it),
``{"type":"ping"}``.

The socket marks the agent online when it opens (unless they chose "away") and offline when
their last console closes, on any process (``handoff.consoles``). Every tick it re-checks the
sign-in: when the session has expired, or the member was deactivated or lost the agent role,
it closes with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from uuid import uuid4

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from handoff import console_actions as actions
from handoff import console_views as views
from handoff.console_api import StaffMember, agent_id_of
from handoff.console_services import ConsoleServices, Event

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 1013  # fell behind the live events: reconnect and reload
CLOSE_SIGNED_OUT = 4401  # the handshake's "sign in first" code: the console goes to sign-in
MAX_FRAME_CHARS = 4096  # the console's events are a few short fields
TICK_S = 5.0  # how often waits are checked against the SLA target and the sign-in re-checked
_ROLES = ("agent",)
_TYPING_EVERY_S = 2.0  # an agent's typing reaches the customer at most this often
_QUEUE_EVENTS = {
    "queued",
    "claimed",
    "released",
    "transferred",
    "cancelled",
    "contact",
    "presence",
}

StaffSocket = Callable[[WebSocket, Iterable[str]], Awaitable[StaffMember | None]]
StaffCheck = Callable[[WebSocket, Iterable[str]], Awaitable[bool]]


def make_socket_router(
    *,
    websocket_staff: StaffSocket,
    staff_still_allowed: StaffCheck,
    services: Callable[[WebSocket], ConsoleServices],
) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws/agent")
    async def agent_socket(websocket: WebSocket) -> None:
        staff = await websocket_staff(websocket, _ROLES)
        if staff is None:
            return  # closed with 4401 or 4403 already
        session = _ConsoleSession(websocket, services(websocket), staff)
        await session.run(lambda: staff_still_allowed(websocket, _ROLES))

    return router


class _ConsoleSession:
    def __init__(self, websocket: WebSocket, console: ConsoleServices, staff: StaffMember) -> None:
        self.websocket, self.console, self.staff = websocket, console, staff
        self.agent_id = agent_id_of(staff)
        self.supervisor = staff.has_role("supervisor")  # admins hold every role
        self.id = uuid4().hex  # this console, among the agent's others on any process
        self._send_lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None
        self._shape: tuple[Any, ...] = ()
        self._typing_sent: dict[str, float] = {}

    async def send(self, event: Event) -> None:
        async with self._send_lock:
            await self.websocket.send_json(event)

    async def run(self, still_allowed: Callable[[], Awaitable[bool]]) -> None:
        """Serve the console until it goes, or until ``still_allowed`` says its sign-in ended
        (expired session, deactivated member, role taken away)."""
        status = await self.console.agent_arrived(self.agent_id, self.staff.name, self.id)
        try:
            async with self.console.hub.subscribe(self.console.agents_channel) as events:
                await self.send(
                    {
                        "type": "hello",
                        "agent_id": self.agent_id,
                        "name": self.staff.name,
                        "presence": status.presence,
                        "capacity": status.capacity,
                        "supervisor": self.supervisor,
                    }
                )
                await self.refresh()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._forward, events)
                    tasks.start_soon(self._tick, still_allowed, tasks.cancel_scope)
                    await self._receive()
                    tasks.cancel_scope.cancel()
        except* WebSocketDisconnect:
            pass  # the agent left while we were sending: nothing is owed to a closed socket
        finally:
            await self._unwatch()
            with anyio.CancelScope(shield=True):  # the socket is gone; the record is not
                await self.console.agent_left(self.agent_id, self.id)

    async def refresh(self, *, only_if_moved: bool = False) -> None:
        """Send the queue snapshot; with ``only_if_moved``, only when its shape (who waits,
        who is past the SLA, the alert) changed, and announce new breaches and alerts."""
        snapshot = await self.console.db(
            views.queue_snapshot,
            now=self.console.now(),
            agent_id=self.agent_id,
            sla_wait_s=self.console.settings.sla_wait_s,
            alert_length=self.console.settings.queue_alert_length,
        )
        items = snapshot["items"]
        breached = {item["conversation_id"] for item in items if item["sla_breached"]}
        shape = (
            tuple(item["conversation_id"] for item in items),
            frozenset(breached),
            snapshot["alert"],
        )
        old_breached = self._shape[1] if self._shape else frozenset()
        old_alert = self._shape[2] if self._shape else False
        moved = shape != self._shape
        self._shape = shape
        if only_if_moved and not moved:
            return
        await self.send(snapshot)
        for item in items:
            if item["conversation_id"] in breached - old_breached:
                await self.send(
                    {
                        "type": "sla_breach",
                        "conversation_id": item["conversation_id"],
                        "waited_s": item["waited_s"],
                    }
                )
        if snapshot["alert"] and not old_alert and self.supervisor:
            limit = snapshot["alert_length"]
            await self.send({"type": "alert", "length": len(items), "limit": limit})

    async def _tick(
        self, still_allowed: Callable[[], Awaitable[bool]], scope: anyio.CancelScope
    ) -> None:
        while True:
            await anyio.sleep(TICK_S)
            if not await still_allowed():
                async with self._send_lock:
                    await self.websocket.close(
                        CLOSE_SIGNED_OUT, "Your session ended: sign in again"
                    )
                scope.cancel()  # stops the receive loop too: nothing more is read or sent
                return
            # A missed renewal (Redis restarting) is made up by the next tick's.
            with contextlib.suppress(Exception):
                await self.console.consoles.still_open(self.agent_id, self.id)
            await self.refresh(only_if_moved=True)

    async def _forward(self, events: Any) -> None:
        try:
            async for event in events:
                await self.send(event)
                if event.get("type") == "queued" and self.console.auto_assign:
                    # Every open console tries; the compare-and-set claim lets one win.
                    await self.console.queue_moved()
                if event.get("type") in _QUEUE_EVENTS:
                    await self.refresh()
        except Exception:  # the hub cut us off (overflow, Redis gone): the console reloads
            log.warning("agent socket: live events lost", exc_info=True)
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(CLOSE_TRY_AGAIN)

    async def _follow(self, conversation_id: str) -> None:
        channel = self.console.conversation_channel(conversation_id)
        async with self.console.hub.subscribe(channel) as events:
            await self.send({"type": "watching", "conversation_id": conversation_id})
            async for event in events:
                kind = event.get("type")
                if kind == "message":
                    await self.send(
                        {"type": "message", "conversation_id": conversation_id, "message": event}
                    )
                elif kind == "typing" and event.get("role") == "customer":
                    await self.send(
                        {"type": "typing", "conversation_id": conversation_id, "on": event["on"]}
                    )
                elif kind == "state":
                    await self.send(event | {"conversation_id": conversation_id})

    async def _unwatch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            # Whatever ended the watch (a closed socket, the hub), the console socket goes on.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
            self._watch = None

    async def _receive(self) -> None:
        while True:
            frame = await self.websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            data = _read_frame(frame.get("text"))
            if isinstance(data, str):
                await self._error(data)
                continue
            await self._handle(data)

    async def _handle(self, data: dict[str, Any]) -> None:
        conversation_id = _storable(data.get("conversation_id"))
        on = data.get("on", False)
        match data.get("type"):
            case "ping":
                await self.send({"type": "pong"})
            case "watch" | "typing" if conversation_id is None:
                await self._error("conversation_id must be a string.")
            case "watch":
                await self._unwatch()
                self._watch = asyncio.create_task(self._follow(conversation_id))
            case "typing" if not isinstance(on, bool):
                await self._error("on must be true or false.")
            case "typing":
                await self._typing(conversation_id, on)
            case str(other):
                await self._error(f"Unknown event {other[:40]!r}.")
            case _:
                await self._error("The event type must be a string.")

    async def _error(self, message: str) -> None:
        await self.send({"type": "error", "message": message})

    async def _typing(self, conversation_id: str, on: bool) -> None:
        now = time.monotonic()
        if on and now - self._typing_sent.get(conversation_id, 0.0) < _TYPING_EVERY_S:
            return
        try:
            await self.console.db(
                actions.check_owner,
                conversation_id=conversation_id,
                agent_id=self.agent_id,
                admin=False,
            )
        except actions.ConsoleError:
            return  # only the owner's typing is shown to the customer
        self._typing_sent[conversation_id] = now if on else 0.0
        event = {"type": "typing", "role": "agent", "on": on, "author": self.staff.name}
        await self.console.tell_customer(conversation_id, event)


def _read_frame(text: str | None) -> dict[str, Any] | str:
    """The console's event, or what is wrong with the frame (sent back as an error event):
    whatever arrives, the socket stays open."""
    if text is None:
        return "The frame must be text."
    if len(text) > MAX_FRAME_CHARS:
        return f"The frame is longer than {MAX_FRAME_CHARS} characters."
    try:
        data = json.loads(text)
    except ValueError:
        return "The frame is not valid JSON."
    except RecursionError:  # nested deeper than the parser's stack
        return "The frame is nested too deeply."
    if not isinstance(data, dict):
        return "The frame must be a JSON object."
    return data


def _storable(value: Any) -> str | None:
    """``value`` if it is a string the database can take, else None: JSON can carry a lone
    UTF-16 surrogate ("\\ud800"), which no UTF-8 encoder (SQLite, PostgreSQL) accepts."""
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value
