"""A cap on the WebSockets one client address holds open at once (the widget's and the agent
console's alike), so that one address cannot tie up the server with idle sockets.

A socket past the cap is accepted and closed at once with 1008 and the reason "too many
connections", before anything else: closing before the accept would reach a browser as a
failed handshake (1006), which says nothing. A socket's slot is freed when it ends, however
it ends.

The count lives in this process: with several server processes, each enforces the cap on the
sockets it serves (issue 12 asks for counters shared across processes; this is not one).
"""

from __future__ import annotations

import threading
from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

CLOSE_TOO_MANY = 1008  # policy violation
REASON = "too many connections"


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
        if not self._take(address):
            await receive()  # websocket.connect: the handshake, answered with accept then close
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TOO_MANY, "reason": REASON})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._give_back(address)

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
