"""What the agent console needs from the app, handed in by ``bot/app.py`` (handoff never
imports bot): the database, the conversation port, the real-time hub and a few settings.

It also knows how to tell people about a change: the customers waiting in the queue (their
new position and wait), and every open console (through the agents' channel of the hub).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool

from handoff.alerts import track_alert
from handoff.console_actions import ConsoleError, ensure_agent
from handoff.consoles import LocalConsoles, OpenConsoles
from handoff.models import AgentStatus, utcnow
from handoff.ports import ConversationPort
from handoff.presence import Presence, set_presence
from handoff.routing import assign_waiting, queued_tickets
from handoff.states import IllegalTransition
from handoff.waiting import queue_position

log = logging.getLogger(__name__)
T = TypeVar("T")
Event = dict[str, Any]


class LiveHub(Protocol):
    """The part of bot's hub the console uses (publish/subscribe of JSON events)."""

    async def publish(self, channel: str, event: Event) -> None: ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Any]: ...


class ConsoleSettings(Protocol):
    sla_wait_s: int
    queue_alert_length: int
    max_message_chars: int


@dataclass
class ConsoleServices:
    sessions: sessionmaker[Session]
    port: ConversationPort
    hub: LiveHub
    settings: ConsoleSettings
    agents_channel: str  # every console follows it
    conversation_channel: Callable[[str], str]  # conversation id -> its channel
    auto_assign: bool = False  # hand waiting conversations to free online agents, least busy first
    consoles: OpenConsoles = field(default_factory=LocalConsoles)  # open, on any process
    now: Callable[[], datetime] = utcnow  # the app's clock: a test moves it instead of waiting

    async def db(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a handoff function with a fresh session in a worker thread."""

        def work() -> T:
            with self.sessions() as session:
                return fn(session=session, **kwargs)

        return await run_in_threadpool(work)

    async def attempt(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        """``db``, with the refusals of the queue and the console as HTTP errors."""
        try:
            return await self.db(fn, **kwargs)
        except ConsoleError as error:
            raise HTTPException(error.status, error.message) from error
        except (IllegalTransition, StaleDataError) as error:
            raise HTTPException(409, str(error) or "Someone else changed it first.") from error

    async def tell_agents(self, event: Event) -> None:
        await self.hub.publish(self.agents_channel, event)

    async def tell_customer(self, conversation_id: str, event: Event) -> None:
        await self.hub.publish(self.conversation_channel(conversation_id), event)

    async def claimed(self, conversation_id: str, agent_id: str, name: str) -> None:
        await self._tell_claimed(conversation_id, agent_id, name)
        await self.queue_moved()

    async def released(self, conversation_id: str, state: str) -> None:
        """The agent let go: back to the bot, resolved, or back to the queue."""
        await self.tell_customer(conversation_id, {"type": "state", "state": state})
        event = {"type": "released", "conversation_id": conversation_id, "state": state}
        await self.tell_agents(event)
        await self.queue_moved()  # a resolution also changes the average handle time

    async def presence_changed(self, status: AgentStatus) -> None:
        await self.tell_agents({"type": "presence", **status_public(status)})
        await self.queue_moved()  # the expected wait depends on who is online

    async def agent_arrived(self, agent_id: str, name: str, console_id: str) -> AgentStatus:
        """A console opened: the agent is online unless they chose to be away."""
        await self.consoles.opened(agent_id, console_id)
        now = self.now()
        status = await self.db(ensure_agent, agent_id=agent_id, name=name, now=now)
        if status.presence == Presence.offline:
            status = await self.db(
                set_presence, agent_id=agent_id, presence=Presence.online, now=now
            )
            await self.presence_changed(status)
        return status

    async def agent_left(self, agent_id: str, console_id: str) -> None:
        """A console closed: with none of theirs left open on any process, the agent is
        offline. If the count is out of reach (Redis down), the agent goes offline: a customer
        told to wait for nobody is worse than an agent who has to come back online."""
        try:
            remaining = await self.consoles.closed(agent_id, console_id)
        except Exception:
            log.warning("open consoles unknown; %s goes offline", agent_id, exc_info=True)
            remaining = 0
        if remaining > 0:
            return
        status = await self.db(
            set_presence, agent_id=agent_id, presence=Presence.offline, now=self.now()
        )
        await self.presence_changed(status)

    async def queue_moved(self) -> None:
        """After a claim, a release, a cancel or a change of presence: with auto-assignment
        on, give waiting conversations to agents with a free slot; then tell every customer
        still waiting their new position and wait."""
        await self._assign()
        await self._tell_waiting()
        await self._track_alert()

    async def ticket_opened(self) -> None:
        """A customer joined the queue (and heard their place): with auto-assignment on, an
        agent with a free slot takes it now; the others hear of it only if the queue moved."""
        if await self._assign():
            await self._tell_waiting()
        await self._track_alert()

    async def _track_alert(self) -> None:
        alert_length = self.settings.queue_alert_length
        await self.db(track_alert, now=self.now(), alert_length=alert_length)

    async def _assign(self) -> bool:
        if not self.auto_assign:
            return False
        assigned = await self.db(_assign_waiting, now=self.now())
        for conversation_id, agent_id, name in assigned:
            await self._tell_claimed(conversation_id, agent_id, name)
        return bool(assigned)

    async def _tell_waiting(self) -> None:
        for conversation_id, state in await self.db(_queued_states):
            await self.tell_customer(conversation_id, state)

    async def _tell_claimed(self, conversation_id: str, agent_id: str, name: str) -> None:
        # The widget shows "<name> joined" from this state event.
        await self.tell_customer(
            conversation_id, {"type": "state", "state": "agent", "agent": name}
        )
        event = {"type": "claimed", "conversation_id": conversation_id, "agent_id": agent_id}
        await self.tell_agents(event | {"agent": name})


def status_public(status: AgentStatus) -> dict[str, Any]:
    return {"agent_id": status.agent_id, "presence": status.presence, "capacity": status.capacity}


def _assign_waiting(*, session: Session, now: datetime) -> list[tuple[str, str, str]]:
    assigned = assign_waiting(session=session, now=now)
    names = {a.agent_id: a.name for a in session.scalars(select(AgentStatus))}
    return [(cid, agent_id, names.get(agent_id, agent_id)) for cid, agent_id in assigned]


def _queued_states(*, session: Session) -> list[tuple[str, Event]]:
    states = []
    for ticket in queued_tickets(session=session):
        place = queue_position(session=session, conversation_id=ticket.conversation_id)
        if place is None:  # claimed between the two reads
            continue
        position, eta_s = place
        event: Event = {"type": "state", "state": "queued", "position": position}
        if eta_s is not None:
            event["eta_s"] = eta_s
        event["offline"] = ticket.offline
        states.append((ticket.conversation_id, event))
    return states
