"""Open agent consoles counted in Redis, for every server process at once (see
``handoff.consoles``): one sorted set per agent, each console scored by when its entry runs
out (on Redis's clock), renewed by the console every tick."""

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
_CLOSE = (
    _NOW
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)


class RedisConsoles:
    def __init__(self, client: redis.Redis, *, ttl_s: float, prefix: str = "allhours:consoles:"):
        self._open = client.register_script(_OPEN)
        self._close = client.register_script(_CLOSE)
        self._ttl_s, self._prefix = ttl_s, prefix

    async def opened(self, agent_id: str, console_id: str) -> None:
        await self._open(keys=[self._prefix + agent_id], args=[console_id, self._ttl_s])

    async def still_open(self, agent_id: str, console_id: str) -> None:
        await self.opened(agent_id, console_id)

    async def closed(self, agent_id: str, console_id: str) -> int:
        return int(await self._close(keys=[self._prefix + agent_id], args=[console_id]))
