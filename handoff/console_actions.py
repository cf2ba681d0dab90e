"""What an agent does in the console, as plain functions over a keyword-only session. Each
commits its change; the routes tell the customer and the other consoles afterwards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.models import AgentStatus, CannedResponse, Note
from handoff.presence import Presence, active_load
from handoff.queue import claim, get_ticket
from handoff.states import State


class ConsoleError(Exception):
    """A request the console refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def ensure_agent(*, session: Session, agent_id: str, name: str, now: datetime) -> AgentStatus:
    """The agent's status row, created on first sight (online) and kept in step with their
    name; presence and capacity are left as the agent set them."""
    status = session.get(AgentStatus, agent_id)
    if status is None:
        status = AgentStatus(
            agent_id=agent_id, name=name, presence=Presence.online, skills=[], languages=[]
        )
        session.add(status)
    status.name, status.last_seen = name, now
    session.commit()
    return status


def claim_for(*, session: Session, conversation_id: str, agent_id: str, now: datetime) -> None:
    """Claim a queued conversation if the agent has a free slot; of concurrent claimers
    exactly one wins (``claim`` is a compare-and-set)."""
    status = session.get(AgentStatus, agent_id)
    if status is not None and active_load(session=session).get(agent_id, 0) >= status.capacity:
        raise ConsoleError(409, f"You already have {status.capacity} conversations open.")
    if not claim(session=session, conversation_id=conversation_id, agent_id=agent_id, now=now):
        ticket = get_ticket(session=session, conversation_id=conversation_id)
        if ticket is None:
            raise ConsoleError(404, "This conversation is not in the queue.")
        raise ConsoleError(409, f"This conversation is no longer waiting (it is {ticket.state}).")


def check_owner(*, session: Session, conversation_id: str, agent_id: str, admin: bool) -> str:
    """The owner's id when the conversation is with an agent and this agent may act on it
    (its owner, or an admin); otherwise a ConsoleError."""
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    if ticket is None or ticket.state != State.agent or ticket.agent_id is None:
        raise ConsoleError(409, "Claim this conversation first.")
    if ticket.agent_id != agent_id and not admin:
        raise ConsoleError(403, "Another agent has this conversation.")
    return ticket.agent_id


def target_agent(*, session: Session, agent_id: str) -> AgentStatus:
    status = session.get(AgentStatus, agent_id)
    if status is None or status.presence == Presence.offline:
        raise ConsoleError(409, "That agent is not signed in to the console.")
    return status


def add_note(
    *, session: Session, conversation_id: str, agent_id: str, text: str, now: datetime
) -> Note:
    note = Note(conversation_id=conversation_id, agent_id=agent_id, text=text, created_at=now)
    session.add(note)
    session.commit()
    return note


def save_canned(
    *, session: Session, canned_id: int | None, values: dict[str, Any]
) -> CannedResponse:
    """Create (``canned_id`` None) or replace a canned response; shortcuts are unique."""
    if canned_id is None:
        row = CannedResponse()
        session.add(row)
    else:
        row = _canned(session, canned_id)
    for name, value in values.items():
        setattr(row, name, value)
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ConsoleError(409, f"The shortcut {values['shortcut']!r} is taken.") from error
    return row


def delete_canned(*, session: Session, canned_id: int) -> None:
    session.delete(_canned(session, canned_id))
    session.commit()


def _canned(session: Session, canned_id: int) -> CannedResponse:
    row = session.scalar(select(CannedResponse).where(CannedResponse.id == canned_id))
    if row is None:
        raise ConsoleError(404, "No such canned response.")
    return row
