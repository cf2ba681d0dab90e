"""What the console shows, read in one short transaction each and returned as JSON-able data."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.models import AgentStatus, CannedResponse, Note, Ticket
from handoff.presence import active_load
from handoff.queue import get_ticket
from handoff.states import State
from handoff.waiting import list_queue


def queue_snapshot(
    *, session: Session, now: datetime, agent_id: str, sla_wait_s: int, alert_length: int
) -> dict[str, Any]:
    """The queue (SLA state, supervisor alert), this agent's own conversations, the team."""
    view = list_queue(session=session, now=now, sla_wait_s=sla_wait_s, alert_length=alert_length)
    mine = session.scalars(
        select(Ticket)
        .where(Ticket.state == State.agent, Ticket.agent_id == agent_id)
        .order_by(Ticket.claimed_at)
    )
    return {
        "type": "queue",
        "items": [asdict(item) for item in view.items],
        "alert": view.alert,
        "breached": view.breached,
        "alert_length": alert_length,
        "sla_wait_s": sla_wait_s,
        "mine": [_owned(ticket) for ticket in mine],
        "agents": agents(session=session),
    }


def agents(*, session: Session) -> list[dict[str, Any]]:
    load = active_load(session=session)
    return [
        {
            "agent_id": status.agent_id,
            "name": status.name,
            "presence": status.presence,
            "capacity": status.capacity,
            "load": load.get(status.agent_id, 0),
        }
        for status in session.scalars(select(AgentStatus).order_by(AgentStatus.name))
    ]


def conversation_view(*, session: Session, conversation_id: str, now: datetime) -> dict[str, Any]:
    """The ticket with its packet (waiting time brought up to date) and the internal notes.
    A conversation that was never handed off has state ``bot`` and no packet."""
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    rows = session.execute(select(AgentStatus.agent_id, AgentStatus.name))
    names = {agent_id: name for agent_id, name in rows}
    notes = session.scalars(
        select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
    )
    view: dict[str, Any] = {
        "conversation_id": conversation_id,
        "state": ticket.state if ticket else State.bot,
        "notes": [_note(note, names) for note in notes],
    }
    if ticket is None:
        return {**view, "packet": None, "agent_id": None, "agent_name": None}
    packet = {k: v for k, v in ticket.packet.items() if k != "transcript"}
    packet["waited_s"] = waited_s(ticket, now)
    packet["contact"] = ticket.contact_email or packet.get("contact")
    owner = session.get(AgentStatus, ticket.agent_id) if ticket.agent_id else None
    return {
        **view,
        "packet": packet,
        "reason": ticket.reason,
        "priority": ticket.priority,
        "offline": ticket.offline,
        "channel": ticket.channel,
        "queued_at": _iso(ticket.queued_at),
        "agent_id": ticket.agent_id,
        "agent_name": owner.name if owner else ticket.agent_id,
    }


def waited_s(ticket: Ticket, now: datetime) -> int:
    """How long the customer waited for a person: until the claim, or until now."""
    if ticket.queued_at is None:
        return 0
    end = ticket.claimed_at if ticket.state != State.queued and ticket.claimed_at else now
    return max(0, round((end - ticket.queued_at).total_seconds()))


def canned_responses(*, session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(CannedResponse).order_by(CannedResponse.shortcut))
    return [canned_public(row) for row in rows]


def canned_public(row: CannedResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "shortcut": row.shortcut,
        "title": row.title,
        "text": row.text,
        "lang": row.lang,
    }


def _owned(ticket: Ticket) -> dict[str, Any]:
    return {
        "conversation_id": ticket.conversation_id,
        "reason": ticket.reason,
        "goal": str(ticket.packet.get("goal", "")),
        "channel": ticket.channel,
        "claimed_at": _iso(ticket.claimed_at),
    }


def _note(note: Note, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": note.id,
        "agent_id": note.agent_id,
        "agent": names.get(note.agent_id, note.agent_id),
        "text": note.text,
        "created_at": _iso(note.created_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
