"""Who takes a queued conversation: manual claim of the next one, or auto-assignment to the
least busy online agent with spare capacity whose skills and languages fit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from handoff.models import AgentStatus, Ticket
from handoff.presence import Presence, active_load, fits, online_agents
from handoff.queue import claim, get_ticket
from handoff.states import State

# Queue order: priority first (higher first), then first come, first served.
QUEUE_ORDER = (Ticket.priority.desc(), Ticket.queued_at.asc(), Ticket.id.asc())


def queued_tickets(*, session: Session, channel: str | None = None) -> list[Ticket]:
    """The queue in order; ``channel`` ("widget" | "email"): only that channel's tickets."""
    query = select(Ticket).where(Ticket.state == State.queued)
    if channel is not None:
        query = query.where(Ticket.channel == channel)
    return list(session.scalars(query.order_by(*QUEUE_ORDER)))


def claim_next(
    *, session: Session, agent_id: str, now: datetime, channel: str | None = None
) -> str | None:
    """Claim the first queued conversation this agent may take (by skills and languages, and
    of ``channel`` when given, e.g. an agent working through the email backlog); returns its
    id, or None when there is none. An agent without a status row is treated as having no
    skills and any language."""
    agent = session.get(AgentStatus, agent_id) or AgentStatus(
        agent_id=agent_id, skills=[], languages=[], presence=Presence.online
    )
    for ticket in queued_tickets(session=session, channel=channel):
        if fits(agent, ticket) and claim(
            session=session, conversation_id=ticket.conversation_id, agent_id=agent_id, now=now
        ):
            return ticket.conversation_id
    return None


def auto_assign(*, session: Session, conversation_id: str, now: datetime) -> str | None:
    """Give a queued conversation to the least busy fitting online agent with spare capacity
    (ties: more spare capacity, then agent id). Returns the agent id, or None."""
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    if ticket is None or ticket.state != State.queued:
        return None
    load = active_load(session=session)
    candidates = [
        agent
        for agent in online_agents(session=session)
        if load.get(agent.agent_id, 0) < agent.capacity and fits(agent, ticket)
    ]
    if not candidates:
        return None

    def busyness(agent: AgentStatus) -> tuple[int, int, str]:
        busy = load.get(agent.agent_id, 0)
        return busy, busy - agent.capacity, agent.agent_id

    for agent in sorted(candidates, key=busyness):
        if _holds_a_free_slot(session=session, agent=agent):
            won = claim(
                session=session, conversation_id=conversation_id, agent_id=agent.agent_id, now=now
            )  # commits, which releases the agent's row
            return agent.agent_id if won else None
    return None


def _holds_a_free_slot(*, session: Session, agent: AgentStatus) -> bool:
    """Lock the agent's row and count their conversations again. Processes assigning at once
    take the lock in turn, so two of them never fill the same last slot. A full agent's row
    is released at once."""
    # A write that changes nothing: it locks the row on PostgreSQL, and on SQLite it takes
    # the database's write lock before the count (a SELECT ... FOR UPDATE there locks nothing).
    session.execute(
        update(AgentStatus)
        .where(AgentStatus.agent_id == agent.agent_id)
        .values(capacity=AgentStatus.capacity)
    )
    owned = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.agent_id == agent.agent_id, Ticket.state == State.agent)
    )
    if (owned or 0) < agent.capacity:
        return True
    session.commit()
    return False


def assign_waiting(*, session: Session, now: datetime) -> list[tuple[str, str]]:
    """Auto-assign the queue in order, e.g. when an agent comes online or frees a slot.
    Returns the (conversation_id, agent_id) pairs assigned."""
    assigned = []
    for conversation_id in [t.conversation_id for t in queued_tickets(session=session)]:
        agent_id = auto_assign(session=session, conversation_id=conversation_id, now=now)
        if agent_id is not None:
            assigned.append((conversation_id, agent_id))
    return assigned
