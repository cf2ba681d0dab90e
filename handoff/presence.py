"""Agents' presence (online, away, offline), capacity, skills and languages, and their load."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.hours import BusinessHours
from handoff.models import AgentStatus, Ticket
from handoff.states import State


class Presence(StrEnum):
    online = "online"  # takes new conversations
    away = "away"  # keeps current conversations, takes no new ones
    offline = "offline"


def set_presence(
    *,
    session: Session,
    agent_id: str,
    presence: Presence | str,
    now: datetime,
    name: str | None = None,
    capacity: int | None = None,
    skills: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
) -> AgentStatus:
    """Create or update an agent's status; arguments left as None keep their value."""
    presence = Presence(presence)
    if capacity is not None and capacity < 0:
        raise ValueError("capacity must be zero or more")
    status = session.get(AgentStatus, agent_id)
    if status is None:
        status = AgentStatus(agent_id=agent_id, name=name or agent_id, skills=[], languages=[])
        session.add(status)
    status.presence = presence
    status.last_seen = now
    if name is not None:
        status.name = name
    if capacity is not None:
        status.capacity = capacity
    if skills is not None:
        status.skills = sorted(set(skills))
    if languages is not None:
        status.languages = sorted(set(languages))
    session.commit()
    return status


def online_agents(*, session: Session) -> list[AgentStatus]:
    query = select(AgentStatus).where(AgentStatus.presence == Presence.online)
    return list(session.scalars(query.order_by(AgentStatus.agent_id)))


def active_load(*, session: Session) -> dict[str, int]:
    """Conversations each agent owns right now."""
    query = (
        select(Ticket.agent_id, func.count())
        .where(Ticket.state == State.agent, Ticket.agent_id.is_not(None))
        .group_by(Ticket.agent_id)
    )
    return {str(agent_id): count for agent_id, count in session.execute(query)}


def fits(agent: AgentStatus, ticket: Ticket) -> bool:
    """Routing: the agent has every skill the ticket needs and speaks its language
    (an agent or a ticket without languages matches any)."""
    if not set(ticket.skills) <= set(agent.skills):
        return False
    return not (ticket.lang and agent.languages) or ticket.lang in agent.languages


def is_offline(*, session: Session, hours: BusinessHours, now: datetime) -> bool:
    """Outside business hours, or nobody online: the customer is told and may leave an email."""
    return not hours.is_open(now) or not online_agents(session=session)
