"""Sliding-window rate limits per client IP and per conversation.

``RateLimiter`` counts in this process's memory (one server). ``RedisRateLimiter`` counts in
Redis, so that with several server processes a client gets the same limit whichever process
it reaches, not one limit per process.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from uuid import uuid4

if TYPE_CHECKING:
    import redis.asyncio as redis

log = logging.getLogger(__name__)


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


class Limiter(Protocol):
    async def admit(self, *, ip: str, conversation_id: str | None = None) -> None:
        """Count one hit or raise ``RateLimited`` with the time to wait."""
        ...


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

    async def admit(self, *, ip: str, conversation_id: str | None = None) -> None:
        self.check(ip=ip, conversation_id=conversation_id)


# Both windows in one atomic step on Redis's own clock (the processes' clocks may differ):
# drop hits older than the window, refuse if a key is full (returning which one and the wait
# in ms), else record the hit under every key. KEYS: the sorted sets, the address's first;
# ARGV: window in ms, one limit per key, then the hit's unique member.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[i + 1]) then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {i, tonumber(oldest[2]) + window - now}
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[#KEYS + 2])
  redis.call('PEXPIRE', key, window)
end
return {0, 0}
"""


class RedisRateLimiter:
    """``RateLimiter``'s limits, counted in Redis for every server process at once. With Redis
    unreachable it admits and logs: abuse control must not turn customers away."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        per_ip: int,
        per_conversation: int,
        window_s: float = 60.0,
        prefix: str = "allhours:rate:",
    ) -> None:
        self._admit = client.register_script(_ADMIT)
        self._limits = {"address": per_ip, "conversation": per_conversation}
        self._window_ms = int(window_s * 1000)
        self._prefix = prefix

    async def admit(self, *, ip: str, conversation_id: str | None = None) -> None:
        keys = {"address": f"{self._prefix}ip:{ip}"}
        if conversation_id is not None:
            keys["conversation"] = f"{self._prefix}conversation:{conversation_id}"
        limits = [self._limits[scope] for scope in keys]
        try:
            refused, wait_ms = await self._admit(
                keys=list(keys.values()), args=[self._window_ms, *limits, uuid4().hex]
            )
        except Exception:  # redis-py raises its own ConnectionError, TimeoutError, ...
            log.warning("rate limits: Redis unreachable, admitting", exc_info=True)
            return
        if refused:
            raise RateLimited(list(keys)[int(refused) - 1], int(wait_ms) / 1000)
