"""Which customers have the widget open: counted in this process and, with several processes,
in Redis too (``bot.consoles.RedisSockets``), so that an agent's reply goes by email only to a
customer who is not reading it live anywhere."""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable
from typing import TypeVar

from bot.consoles import RedisSockets

log = logging.getLogger(__name__)
T = TypeVar("T")


class OpenWidgets:
    def __init__(self, shared: RedisSockets | None = None) -> None:
        self.here: collections.Counter[str] = collections.Counter()  # by conversation
        self.shared = shared

    @property
    def renew_every_s(self) -> float | None:
        """How often an open widget renews its shared entry; None: nothing to renew."""
        return None if self.shared is None else self.shared.ttl_s / 3

    async def opened(self, conversation_id: str, socket_id: str) -> None:
        self.here[conversation_id] += 1
        if self.shared is not None:
            await _quietly(self.shared.opened(conversation_id, socket_id))

    async def still_open(self, conversation_id: str, socket_id: str) -> None:
        if self.shared is not None:
            await _quietly(self.shared.still_open(conversation_id, socket_id))

    async def closed(self, conversation_id: str, socket_id: str) -> None:
        self.here[conversation_id] -= 1
        if self.here[conversation_id] <= 0:
            del self.here[conversation_id]
        if self.shared is not None:
            await _quietly(self.shared.closed(conversation_id, socket_id))

    async def is_open(self, conversation_id: str) -> bool:
        """Whether the customer has the widget open, on any process."""
        if self.shared is not None:
            count = await _quietly(self.shared.count(conversation_id))
            if count is not None:
                return count > 0
        return self.here.get(conversation_id, 0) > 0  # Redis down: this process's own


async def _quietly(call: Awaitable[T]) -> T | None:
    """Redis restarting must not cost a customer their socket: None, logged, and the next
    renewal puts the count right."""
    try:
        return await call
    except Exception:
        log.warning("open widgets: Redis unavailable", exc_info=True)
        return None
