"""A cap on the WebSockets one client address holds open at once (the widget's and the agent
console's alike), so that one address cannot tie up the server with idle sockets.

A socket past the cap is accepted and closed at once with 1008 and the reason "too many
connections", before anything else: closing before the accept would reach a browser as a
failed handshake (1006), which says nothing. A socket's slot is freed when it ends, however
it ends.

One process counts in its memory. With several processes the app puts a shared count in
``app.state.address_sockets`` (Redis, see ``bot.consoles``): the cap then holds across every
process, each socket renewing its entry while it is open, so the sockets of a process that
died stop counting. While Redis is unreachable, each process falls back to its own count.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import Counter
from typing import Any, Protocol

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

CLOSE_TOO_MANY = 1008  # policy violation
REASON = "too many connections"

log = logging.getLogger(__name__)


class SharedSockets(Protocol):
    ttl_s: float

    async def open_within(self, key: str, socket_id: str, cap: int) -> bool: ...

    async def still_open(self, key: str, socket_id: str) -> None: ...

    async def closed(self, key: str, socket_id: str) -> int: ...


class SocketLimit:
    """ASGI middleware: at most ``per_ip`` open WebSockets per client address."""

    def __init__(self, app: ASGIApp, *, per_ip: int) -> None:
        self.app = app
        self.per_ip = per_ip
        self._open: Counter[str] = Counter()
        # Held only to count, never across an await. A lock, not the event loop's order: a
        # test client may run each socket on a loop (and thread) of its own.
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        shared: SharedSockets | None = getattr(scope["app"].state, "address_sockets", None)
        if shared is not None:
            await self._shared(shared, address, scope, receive, send)
            return
        if not self._take(address):
            await _refuse(receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._give_back(address)

    async def _shared(
        self, shared: SharedSockets, address: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        socket_id = uuid.uuid4().hex
        try:
            admitted = await shared.open_within(address, socket_id, self.per_ip)
        except Exception:
            log.warning("socket cap: Redis unavailable, counting this process's own", exc_info=True)
            shared = None
            admitted = self._take(address)
        if not admitted:
            await _refuse(receive, send)
            return
        # A task of its own, not a task group: the app's own errors pass through unchanged.
        renewing = asyncio.create_task(_renew(shared, address, socket_id)) if shared else None
        try:
            await self.app(scope, receive, send)
        finally:
            if renewing is not None:
                renewing.cancel()
            with anyio.CancelScope(shield=True):
                if shared is None:
                    self._give_back(address)
                else:
                    await _quietly(shared.closed(address, socket_id))

    def _take(self, address: str) -> bool:
        with self._lock:
            if self._open[address] >= self.per_ip:
                return False
            self._open[address] += 1
            return True

    def _give_back(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]  # a stream of one-off addresses leaves nothing behind


async def _refuse(receive: Receive, send: Send) -> None:
    await receive()  # websocket.connect: the handshake, answered with accept then close
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY, "reason": REASON})


async def _renew(shared: SharedSockets, address: str, socket_id: str) -> None:
    while True:
        await anyio.sleep(shared.ttl_s / 3)
        await _quietly(shared.still_open(address, socket_id))


async def _quietly(call: Any) -> None:
    try:
        await call
    except Exception:  # Redis restarting: the entry runs out, or the next renewal restores it
        log.warning("socket cap: Redis unavailable", exc_info=True)
