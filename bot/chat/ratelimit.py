"""In-memory sliding-window rate limits per client IP and per conversation.

In memory on purpose: limits protect one process from floods; with several processes each
enforces its own share, which is good enough for abuse control and needs no shared store.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimited(Exception):
    def __init__(self, scope: str, retry_after_s: float) -> None:
        self.scope = scope
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"Too many messages from this {scope}; try again in {self.retry_after_s} s."
        )


class SlidingWindow:
    """At most ``limit`` hits per key within any ``window_s`` seconds."""

    def __init__(
        self, limit: int, window_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may hit again; 0 when it may hit now."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) < self.limit:
            return 0.0
        return hits[0] + self.window_s - now

    def record(self, key: str) -> None:
        now = self._clock()
        self._hits.setdefault(key, deque()).append(now)
        if now - self._last_sweep > self.window_s:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        # Forget idle keys so a stream of one-off IPs cannot grow memory without bound.
        self._last_sweep = now
        horizon = now - self.window_s
        idle = [key for key, hits in self._hits.items() if not hits or hits[-1] <= horizon]
        for key in idle:
            del self._hits[key]


class RateLimiter:
    """Both limits at once: a hit is recorded only when neither limit refuses it."""

    def __init__(
        self,
        *,
        per_ip: int,
        per_conversation: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ip = SlidingWindow(per_ip, window_s, clock=clock)
        self._conversation = SlidingWindow(per_conversation, window_s, clock=clock)

    def check(self, *, ip: str, conversation_id: str | None = None) -> None:
        """Count one hit or raise ``RateLimited`` with the time to wait."""
        wait = self._ip.wait_s(ip)
        if wait > 0:
            raise RateLimited("address", wait)
        if conversation_id is not None:
            wait = self._conversation.wait_s(conversation_id)
            if wait > 0:
                raise RateLimited("conversation", wait)
            self._conversation.record(conversation_id)
        self._ip.record(ip)
