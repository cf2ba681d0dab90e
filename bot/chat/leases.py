"""Leases: work that one process at a time may do, such as a conversation's turn.

A lease is held for ``ttl_s`` and renewed while the work goes on, so when its process dies
(``kill -9``, a lost machine) the lease runs out and another process can take the work over.
``LocalLeases`` serves one process; ``RedisLeases`` is shared by every process on one Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol
from uuid import uuid4

if TYPE_CHECKING:
    import redis.asyncio as redis

log = logging.getLogger(__name__)

_POLL_S = 0.1  # how often a waiting process looks again whether the lease is free


class Leases(Protocol):
    async def take(self, key: str, token: str, ttl_s: float) -> bool:
        """Take ``key`` for ``ttl_s`` if nobody holds it."""
        ...

    async def renew(self, key: str, token: str, ttl_s: float) -> None: ...

    async def release(self, key: str, token: str) -> None: ...


class LocalLeases:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    async def take(self, key: str, token: str, ttl_s: float) -> bool:
        holder = self._held.get(key)
        if holder is not None and holder[1] > time.monotonic():
            return False
        self._held[key] = (token, time.monotonic() + ttl_s)
        return True

    async def renew(self, key: str, token: str, ttl_s: float) -> None:
        if self._held.get(key, ("", 0.0))[0] == token:
            self._held[key] = (token, time.monotonic() + ttl_s)

    async def release(self, key: str, token: str) -> None:
        if self._held.get(key, ("", 0.0))[0] == token:
            del self._held[key]


# Renew or release only a lease this holder still has: it may have run out and been taken.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end"


class RedisLeases:
    def __init__(self, client: redis.Redis, *, prefix: str = "allhours:lease:") -> None:
        self._client, self._prefix = client, prefix
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def take(self, key: str, token: str, ttl_s: float) -> bool:
        ttl_ms = int(ttl_s * 1000)
        return bool(await self._client.set(self._prefix + key, token, nx=True, px=ttl_ms))

    async def renew(self, key: str, token: str, ttl_s: float) -> None:
        await self._renew(keys=[self._prefix + key], args=[token, int(ttl_s * 1000)])

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[self._prefix + key], args=[token])


@contextlib.asynccontextmanager
async def holding(leases: Leases, key: str, ttl_s: float) -> AsyncIterator[None]:
    """Wait for ``key``, hold it (renewed) inside the block, then let it go. If the lease store
    fails (Redis down) the work goes ahead unguarded and says so: a customer waiting for an
    answer matters more than a duplicate the store could have prevented."""
    token = uuid4().hex
    try:
        while not await leases.take(key, token, ttl_s):
            await asyncio.sleep(_POLL_S)
    except Exception:
        log.warning("leases: store unreachable, %s goes ahead unguarded", key, exc_info=True)
        yield
        return
    renewing = asyncio.create_task(_renew(leases, key, token, ttl_s))
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(Exception):  # it runs out by itself if this fails
            await leases.release(key, token)


async def _renew(leases: Leases, key: str, token: str, ttl_s: float) -> None:
    while True:
        await asyncio.sleep(ttl_s / 3)
        try:
            await leases.renew(key, token, ttl_s)
        except Exception:
            log.warning("leases: could not renew %s", key, exc_info=True)
