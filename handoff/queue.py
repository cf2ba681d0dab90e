"""The handoff queue: every change of a conversation's state, through ``check_transition``.

Functions take a keyword-only session and commit their change before returning, so that a
claim or a resolve is durable by the time the console or the customer hears of it. ``claim``
is a compare-and-set (``UPDATE ... WHERE state = 'queued'``): of concurrent claimers exactly
one wins, in any process, on SQLite or PostgreSQL. Other changes use the ticket's version
column: a concurrent change raises ``sqlalchemy.orm.exc.StaleDataError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from handoff.models import HandoffEvent, Ticket
from handoff.states import IllegalTransition, State, check_transition

# The log's name for each move that ``_move`` makes (claims and handoffs are logged where
# they happen): (from, to) -> kind.
_MOVES = {
    (State.agent, State.queued): "requeued",
    (State.agent, State.bot): "returned",
    (State.queued, State.bot): "cancelled",
    (State.agent, State.resolved): "resolved",
    (State.resolved, State.bot): "reopened",
}


def get_ticket(*, session: Session, conversation_id: str) -> Ticket | None:
    return session.scalar(select(Ticket).where(Ticket.conversation_id == conversation_id))


def state_of(*, session: Session, conversation_id: str) -> State:
    """The conversation's state; a conversation that was never handed off is ``bot``."""
    state = session.scalar(select(Ticket.state).where(Ticket.conversation_id == conversation_id))
    return State(state) if state else State.bot


def open_handoff(
    *,
    session: Session,
    conversation_id: str,
    reason: str,
    priority: int,
    packet: Mapping[str, Any],
    now: datetime,
    tags: Iterable[str] = (),
    lang: str | None = None,
    detail: str = "",
    offline: bool = False,
    contact_email: str | None = None,
    channel: str = "widget",
) -> Ticket:
    """bot -> queued, with the packet attached. ``offline``: nobody can take it now (no
    agent online or outside hours); it stays in the queue as an offline ticket."""
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    if ticket is None:
        ticket = Ticket(conversation_id=conversation_id, state=State.bot, handoffs=0)
        session.add(ticket)
    elif ticket.state != State.bot:  # agent -> queued is a transfer, not a new handoff
        raise IllegalTransition(State(ticket.state), State.queued, "only from 'bot'")
    check_transition(ticket.state, State.queued)
    ticket.state = State.queued
    ticket.reason, ticket.priority, ticket.detail = str(reason), priority, detail
    ticket.packet = dict(packet)
    ticket.skills, ticket.lang = sorted(set(tags)), lang
    ticket.offline, ticket.channel = offline, channel
    ticket.contact_email = contact_email or ticket.contact_email
    ticket.queued_at, ticket.claimed_at, ticket.resolved_at = now, None, None
    ticket.agent_id, ticket.updated_at = None, now
    ticket.handoffs += 1
    _log(session, conversation_id, "queued", now, reason=str(reason))
    session.commit()
    return ticket


def claim(*, session: Session, conversation_id: str, agent_id: str, now: datetime) -> bool:
    """queued -> agent for ``agent_id``; False when the conversation is not (or no longer)
    queued, for instance because another agent claimed it first."""
    check_transition(State.queued, State.agent)
    statement = (
        update(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.state == State.queued)
        .values(
            state=State.agent,
            agent_id=agent_id,
            claimed_at=now,
            updated_at=now,
            offline=False,
            version=Ticket.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )
    # An UPDATE yields a CursorResult, whose rowcount tells whether this claimer won.
    result = cast(CursorResult[Any], session.execute(statement))
    won = result.rowcount == 1
    if won:
        _log(session, conversation_id, "claimed", now, agent_id=agent_id)
    session.commit()
    return won


def transfer(
    *, session: Session, conversation_id: str, now: datetime, to_agent_id: str | None = None
) -> Ticket:
    """Hand an agent's conversation to another agent (no state change), or back to the queue
    (agent -> queued, keeping its place: the customer has waited already)."""
    if to_agent_id is None:
        return _move(session, conversation_id, State.queued, now)
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    old = State(ticket.state) if ticket else State.bot
    if ticket is None or old != State.agent:
        raise IllegalTransition(old, State.agent, "only an agent's conversation is transferred")
    ticket.agent_id, ticket.claimed_at, ticket.updated_at = to_agent_id, now, now
    _log(session, conversation_id, "transferred", now, agent_id=to_agent_id)
    session.commit()
    return ticket


def return_to_bot(*, session: Session, conversation_id: str, now: datetime) -> Ticket:
    """agent -> bot (the agent hands back), or resolved -> bot (the customer writes again)."""
    return _move(session, conversation_id, State.bot, now, only_from=(State.agent, State.resolved))


def resolve(*, session: Session, conversation_id: str, now: datetime) -> Ticket:
    """agent -> resolved."""
    return _move(session, conversation_id, State.resolved, now)


def cancel(*, session: Session, conversation_id: str, now: datetime) -> Ticket:
    """queued -> bot: the customer no longer wants to wait."""
    return _move(session, conversation_id, State.bot, now, only_from=(State.queued,))


def set_contact(*, session: Session, conversation_id: str, email: str) -> Ticket:
    """The customer leaves an email address, typically for an offline ticket."""
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    if ticket is None:
        raise LookupError(f"conversation {conversation_id!r} was never handed off")
    ticket.contact_email = email
    ticket.packet = {**ticket.packet, "contact": email}
    session.commit()
    return ticket


def _move(
    session: Session,
    conversation_id: str,
    new: State,
    now: datetime,
    *,
    only_from: tuple[State, ...] = (),
) -> Ticket:
    ticket = get_ticket(session=session, conversation_id=conversation_id)
    old = State(ticket.state) if ticket else State.bot
    # An allowed edge can still be the wrong operation: "cancel" is the customer's queued -> bot.
    if only_from and old not in only_from:
        raise IllegalTransition(
            old, new, "only from " + " or ".join(repr(s.value) for s in only_from)
        )
    check_transition(old, new)
    assert ticket is not None  # check_transition rejects every move out of a missing ticket
    _log(session, conversation_id, _MOVES[old, new], now, agent_id=ticket.agent_id)
    ticket.state, ticket.updated_at = new, now
    if new == State.resolved:
        ticket.resolved_at = now
        if ticket.claimed_at is not None:
            ticket.handled_s = round((now - ticket.claimed_at).total_seconds())
    else:  # back to the bot or the queue: nobody owns it any more
        ticket.agent_id, ticket.claimed_at = None, None
    session.commit()
    return ticket


def _log(
    session: Session,
    conversation_id: str,
    kind: str,
    now: datetime,
    *,
    agent_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Add the move to the handoff log, in the same transaction as the move itself."""
    event = HandoffEvent(
        conversation_id=conversation_id, kind=kind, at=now, agent_id=agent_id, reason=reason
    )
    session.add(event)
