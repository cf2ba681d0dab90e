"""The real-time hub: publish/subscribe of JSON events per conversation and for all agents.

``InMemoryHub`` serves one process. ``RedisHub`` shares events between any number of server
processes over Redis pub/sub, with one Redis connection per process fanned out locally.
The hub carries live events only; what must not be lost is in the database, and a client
that missed events (a slow reader, a dropped connection) replays from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

Event = dict[str, Any]
AGENTS = "agents"  # the channel every agent console follows
_QUEUE_LIMIT = 1000  # events buffered per subscriber before it is cut off
_CONFIRM_TIMEOUT_S = 10.0  # Redis unreachable: fail the subscriber instead of hanging


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


class HubOverflow(Exception):
    """The subscriber fell too far behind; it should reconnect and replay from the database."""


class Subscription:
    """Events of one channel, in publish order: ``async for event in subscription``."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(_QUEUE_LIMIT)
        self._overflowed = False

    def _offer(self, data: str) -> None:
        if self._overflowed:
            return
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            # Cut the reader off rather than buffer without bound: drop what waits, mark it.
            self._overflowed = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        data = await self._queue.get()
        if data is None:
            raise HubOverflow("too many events were waiting; reconnect to catch up")
        return json.loads(data)


class Hub(Protocol):
    async def publish(self, channel: str, event: Event) -> None: ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Receive every event published to ``channel`` after entering the context."""
        ...

    async def close(self) -> None: ...


class _Fanout:
    """Local subscribers by channel; both hubs deliver through it."""

    def __init__(self) -> None:
        self.channels: dict[str, set[Subscription]] = {}

    def add(self, channel: str) -> tuple[Subscription, bool]:
        subscribers = self.channels.setdefault(channel, set())
        subscription = Subscription()
        subscribers.add(subscription)
        return subscription, len(subscribers) == 1

    def remove(self, channel: str, subscription: Subscription) -> bool:
        subscribers = self.channels.get(channel, set())
        subscribers.discard(subscription)
        if subscribers:
            return False
        self.channels.pop(channel, None)
        return True

    def deliver(self, channel: str, data: str) -> None:
        for subscription in self.channels.get(channel, ()):
            subscription._offer(data)


class InMemoryHub:
    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, event: Event) -> None:
        # Serialised as Redis would, so a non-JSON event fails here too and nobody shares dicts.
        self._fanout.deliver(channel, json.dumps(event))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription, _ = self._fanout.add(channel)
        try:
            yield subscription
        finally:
            self._fanout.remove(channel, subscription)

    async def close(self) -> None:
        self._fanout.channels.clear()


class RedisHub:
    def __init__(self, url: str, *, prefix: str = "allhours:") -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)  # shared with the rate limits and leases
        self._pubsub = self.client.pubsub()
        self._prefix = prefix
        self._fanout = _Fanout()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, channel: str, event: Event) -> None:
        await self.client.publish(self._prefix + channel, json.dumps(event))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription, first = self._fanout.add(channel)
        try:
            if first:
                await self._subscribe_remote(channel)
            else:
                await asyncio.wait_for(self._confirmed[channel].wait(), _CONFIRM_TIMEOUT_S)
            yield subscription
        finally:
            if self._fanout.remove(channel, subscription):
                await self._unsubscribe_remote(channel)

    async def _subscribe_remote(self, channel: str) -> None:
        # Wait for Redis to confirm, so that nothing published afterwards can be missed
        # (callers subscribe first, then read the database, then follow the live events).
        confirmed = self._confirmed[channel] = asyncio.Event()
        async with self._lock:
            await self._pubsub.subscribe(self._prefix + channel)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read(), name="redis-hub-reader")
        await asyncio.wait_for(confirmed.wait(), _CONFIRM_TIMEOUT_S)

    async def _unsubscribe_remote(self, channel: str) -> None:
        self._confirmed.pop(channel, None)
        with contextlib.suppress(Exception):  # the connection is going away anyway
            async with self._lock:
                await self._pubsub.unsubscribe(self._prefix + channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and re-subscribes on the next read; events published
                # meanwhile are recovered by clients from the database.
                log.warning("redis hub: connection lost, retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()[len(self._prefix) :]
        if message["type"] == "subscribe":
            confirmed = self._confirmed.get(channel)
            if confirmed is not None:
                confirmed.set()
        elif message["type"] == "message":
            self._fanout.deliver(channel, message["data"].decode())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()
        await self.client.aclose()


def make_hub(settings: Settings) -> Hub:
    match settings.hub:
        case "memory":
            return InMemoryHub()
        case "redis":
            return RedisHub(settings.redis_url)
    raise ValueError(f"unknown hub {settings.hub!r}")
