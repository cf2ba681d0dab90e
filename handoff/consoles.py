"""Which agents have a console open, across every server process.

An agent is online while any console of theirs is open, on any process, and goes offline when
the last one closes. ``LocalConsoles`` counts them in one process; bot hands in a shared one
(Redis) when several processes serve consoles. Each open console renews its entry every tick,
so the consoles of a process that died stop counting after ``ttl_s``.
"""

from __future__ import annotations

from typing import Protocol


class OpenConsoles(Protocol):
    async def opened(self, agent_id: str, console_id: str) -> None: ...

    async def still_open(self, agent_id: str, console_id: str) -> None:
        """Called every tick while the console is open."""
        ...

    async def closed(self, agent_id: str, console_id: str) -> int:
        """Forget this console; how many of the agent's consoles are still open anywhere."""
        ...


class LocalConsoles:
    def __init__(self) -> None:
        self._open: dict[str, set[str]] = {}

    async def opened(self, agent_id: str, console_id: str) -> None:
        self._open.setdefault(agent_id, set()).add(console_id)

    async def still_open(self, agent_id: str, console_id: str) -> None:
        pass  # nothing here outlives its process

    async def closed(self, agent_id: str, console_id: str) -> int:
        consoles = self._open.get(agent_id, set())
        consoles.discard(console_id)
        if not consoles:
            self._open.pop(agent_id, None)
        return len(consoles)
