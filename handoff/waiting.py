"""What waiting looks like: a customer's position and expected wait, and the queue as the
console shows it (wait, SLA state, supervisor alert)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handoff.models import Ticket
from handoff.presence import online_agents
from handoff.routing import QUEUE_ORDER, queued_tickets
from handoff.states import State

DEFAULT_HANDLE_S = 300  # the expected handle time before any conversation was resolved
_HANDLE_SAMPLE = 50  # recent resolutions that set the average


@dataclass(frozen=True)
class QueueItem:
    conversation_id: str
    position: int  # 1: next
    reason: str | None
    priority: int
    detail: str
    goal: str  # from the packet, as a preview
    waited_s: int
    sla_breached: bool  # waited longer than the SLA target
    offline: bool
    skills: tuple[str, ...]
    lang: str | None
    contact_email: str | None
    channel: str = "widget"


@dataclass(frozen=True)
class QueueView:
    items: list[QueueItem]
    alert: bool  # the queue is longer than the supervisors' alert length
    breached: int  # how many wait past the SLA target


def average_handle_s(*, session: Session, default: int = DEFAULT_HANDLE_S) -> float:
    recent = (
        select(Ticket.handled_s)
        .where(Ticket.handled_s.is_not(None))
        .order_by(Ticket.resolved_at.desc())
        .limit(_HANDLE_SAMPLE)
        .subquery()
    )
    mean = session.scalar(select(func.avg(recent.c.handled_s)))
    return float(mean) if mean is not None else float(default)


def queue_position(
    *, session: Session, conversation_id: str, default_handle_s: int = DEFAULT_HANDLE_S
) -> tuple[int, int | None] | None:
    """(position, eta_seconds) of a queued conversation; None when it is not queued. The
    ETA is position x average handle time / online agents, None when nobody is online."""
    queued = select(Ticket.conversation_id).where(Ticket.state == State.queued)
    ids = list(session.scalars(queued.order_by(*QUEUE_ORDER)))
    if conversation_id not in ids:
        return None
    position = ids.index(conversation_id) + 1
    online = len(online_agents(session=session))
    if not online:
        return position, None
    handle = average_handle_s(session=session, default=default_handle_s)
    return position, math.ceil(position * handle / online)


def list_queue(*, session: Session, now: datetime, sla_wait_s: int, alert_length: int) -> QueueView:
    items = []
    for position, ticket in enumerate(queued_tickets(session=session), start=1):
        waited = max(0, round((now - ticket.queued_at).total_seconds())) if ticket.queued_at else 0
        items.append(
            QueueItem(
                conversation_id=ticket.conversation_id,
                position=position,
                reason=ticket.reason,
                priority=ticket.priority,
                detail=ticket.detail,
                goal=str(ticket.packet.get("goal", "")),
                waited_s=waited,
                sla_breached=waited > sla_wait_s,
                offline=ticket.offline,
                skills=tuple(ticket.skills),
                lang=ticket.lang,
                contact_email=ticket.contact_email,
                channel=ticket.channel,
            )
        )
    breached = sum(item.sla_breached for item in items)
    return QueueView(items=items, alert=len(items) > alert_length, breached=breached)
