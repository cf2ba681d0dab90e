"""Open sockets counted in Redis, for every server process at once: agents' consoles (see
``handoff.consoles``), customers' widgets, and every socket by client address (the cap in
``bot.sockets``). One sorted set per agent or conversation, each
socket scored by when its entry runs out (on Redis's clock), renewed by the socket while it is
open, so the sockets of a process that died stop counting after ``ttl_s``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis.asyncio as redis

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6"
_OPEN = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) * 2)
"""
)
_OPEN_WITHIN = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) * 2)
return 1
"""
)
_COUNT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)
_CLOSE = (
    _NOW
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)


class RedisSockets:
    """The sockets open for each key (an agent, a conversation), ``prefix`` naming the kind."""

    def __init__(self, client: redis.Redis, *, ttl_s: float, prefix: str) -> None:
        self._open = client.register_script(_OPEN)
        self._open_within = client.register_script(_OPEN_WITHIN)
        self._count = client.register_script(_COUNT)
        self._close = client.register_script(_CLOSE)
        self.ttl_s, self._prefix = ttl_s, prefix

    async def opened(self, key: str, socket_id: str) -> None:
        await self._open(keys=[self._prefix + key], args=[socket_id, self.ttl_s])

    async def open_within(self, key: str, socket_id: str, cap: int) -> bool:
        """Count this socket in, unless ``cap`` sockets are open for ``key`` already."""
        args = [socket_id, self.ttl_s, cap]
        return bool(await self._open_within(keys=[self._prefix + key], args=args))

    async def still_open(self, key: str, socket_id: str) -> None:
        await self.opened(key, socket_id)

    async def count(self, key: str) -> int:
        return int(await self._count(keys=[self._prefix + key]))

    async def closed(self, key: str, socket_id: str) -> int:
        """Forget this socket; how many are still open for ``key``, on any process."""
        return int(await self._close(keys=[self._prefix + key], args=[socket_id]))
