"""What the reports are computed from: the period's conversations with their messages,
feedback, rating and handoff log, read in one transaction into plain values."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics.period import Filters, Period
from bot.chat.models import Conversation, Feedback, Message, Rating
from handoff.models import AgentStatus, HandoffEvent, Ticket


@dataclass(frozen=True)
class Said:
    """One message."""

    seq: int
    role: str
    text: str
    at: datetime
    decision: str | None
    reason: str | None
    citations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Move:
    """One entry of the handoff log."""

    kind: str
    at: datetime
    agent_id: str | None
    reason: str | None


@dataclass
class Chat:
    """One conversation of the period, with everything the reports read about it."""

    id: str
    channel: str
    lang: str
    created_at: datetime
    skills: tuple[str, ...] = ()
    messages: list[Said] = field(default_factory=list)  # by seq
    feedback: dict[int, str] = field(default_factory=dict)  # bot message seq -> up | down
    rating: tuple[int, str] | None = None  # (1-5, comment)
    moves: list[Move] = field(default_factory=list)  # in the order they happened

    def customer_texts(self) -> list[Said]:
        return [m for m in self.messages if m.role == "customer"]

    def asked_before(self, seq: int) -> Said | None:
        """The customer's last message before message ``seq``: what a bot turn answered."""
        earlier = [m for m in self.messages if m.role == "customer" and m.seq < seq]
        return earlier[-1] if earlier else None


@dataclass
class Facts:
    period: Period
    chats: list[Chat]
    agent_names: dict[str, str]


def load_facts(*, session: Session, period: Period, filters: Filters) -> Facts:
    """The conversations started in the period that match the filters. A skill filter keeps
    the conversations handed off with that skill (the bot's own have none)."""
    query = select(Conversation).where(
        Conversation.created_at >= period.start, Conversation.created_at < period.end
    )
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.lang:
        query = query.where(Conversation.lang == filters.lang)
    chats = {
        c.id: Chat(c.id, c.channel, c.lang, _utc(c.created_at))
        for c in session.scalars(query.order_by(Conversation.created_at, Conversation.id))
    }
    ids = select(query.with_only_columns(Conversation.id).subquery().c.id)
    for ticket in session.scalars(select(Ticket).where(Ticket.conversation_id.in_(ids))):
        chats[ticket.conversation_id].skills = tuple(ticket.skills)
    if filters.skill:
        chats = {key: chat for key, chat in chats.items() if filters.skill in chat.skills}
    _attach(session, ids, chats)
    names = {a: n for a, n in session.execute(select(AgentStatus.agent_id, AgentStatus.name))}
    return Facts(period, list(chats.values()), names)


def _attach(session: Session, ids: Any, chats: dict[str, Chat]) -> None:
    messages = select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.seq)
    for m in session.scalars(messages):
        if m.conversation_id in chats:
            said = Said(
                m.seq, m.role, m.text, _utc(m.created_at), m.decision, m.reason, tuple(m.citations)
            )
            chats[m.conversation_id].messages.append(said)
    for f in session.scalars(select(Feedback).where(Feedback.conversation_id.in_(ids))):
        if f.conversation_id in chats:
            chats[f.conversation_id].feedback[f.seq] = f.value
    for r in session.scalars(select(Rating).where(Rating.conversation_id.in_(ids))):
        if r.conversation_id in chats:
            chats[r.conversation_id].rating = (r.value, r.comment)
    moves: dict[str, list[Move]] = defaultdict(list)
    log = select(HandoffEvent).where(HandoffEvent.conversation_id.in_(ids))
    for e in session.scalars(log.order_by(HandoffEvent.id)):
        moves[e.conversation_id].append(Move(e.kind, e.at, e.agent_id, e.reason))
    for conversation_id, found in moves.items():
        if conversation_id in chats:
            chats[conversation_id].moves = found


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for the bot's tables; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
