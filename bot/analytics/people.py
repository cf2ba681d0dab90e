"""The dashboard's figures about people: queue waits, first responses, resolutions, SLA,
abandonment and per-agent load and satisfaction, from the handoff log of the period's
conversations."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from bot.analytics.facts import Chat, Facts
from bot.analytics.schemas import AgentFigures, PeopleFigures


@dataclass
class _Handoff:
    """One stay in the queue and what followed, up to the next handoff."""

    queued_at: datetime
    waited_until: datetime | None = None  # claimed or left
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    abandoned: bool = False
    resolved_at: datetime | None = None


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with ``share`` of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(share * len(ordered)) - 1)])


def people_figures(facts: Facts, *, now: datetime, sla_wait_s: int) -> PeopleFigures:
    waits: list[float] = []
    first_responses: list[float] = []
    resolutions: list[float] = []
    handoffs = claimed = abandoned = waiting = breaches = 0
    claims: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    for chat in facts.chats:
        for stay in _handoffs(chat):
            handoffs += 1
            end = stay.waited_until or now
            breaches += (end - stay.queued_at).total_seconds() > sla_wait_s
            abandoned += stay.abandoned
            waiting += stay.waited_until is None
            if stay.claimed_at is None or stay.claimed_by is None:
                continue
            claimed += 1
            claims[stay.claimed_by] += 1
            waits.append((stay.claimed_at - stay.queued_at).total_seconds())
            reply = _first_agent_message(chat, stay.claimed_at)
            if reply is not None:
                first_responses.append((reply - stay.claimed_at).total_seconds())
            if stay.resolved_at is not None:
                resolutions.append((stay.resolved_at - stay.queued_at).total_seconds())
        for move in chat.moves:
            if move.kind == "resolved" and move.agent_id:
                resolved[move.agent_id] += 1
    return PeopleFigures(
        handoffs=handoffs,
        claimed=claimed,
        abandoned=abandoned,
        still_waiting=waiting,
        sla_breaches=breaches,
        sla_wait_s=sla_wait_s,
        wait_p50_s=percentile(waits, 0.5),
        wait_p90_s=percentile(waits, 0.9),
        first_response_p50_s=percentile(first_responses, 0.5),
        first_response_p90_s=percentile(first_responses, 0.9),
        resolution_p50_s=percentile(resolutions, 0.5),
        resolution_p90_s=percentile(resolutions, 0.9),
        agents=_agents(facts, claims, resolved),
    )


def _handoffs(chat: Chat) -> list[_Handoff]:
    """The conversation's stays in the queue, read from its log in order."""
    stays: list[_Handoff] = []
    for move in chat.moves:
        current = stays[-1] if stays else None
        match move.kind:
            case "queued":
                stays.append(_Handoff(queued_at=move.at))
            case "claimed" if current and current.claimed_at is None:
                current.waited_until, current.claimed_at = move.at, move.at
                current.claimed_by = move.agent_id
            case "cancelled" if current and current.claimed_at is None:
                current.waited_until, current.abandoned = move.at, True
            case "resolved" if current:
                current.resolved_at = move.at
    return stays


def _first_agent_message(chat: Chat, since: datetime) -> datetime | None:
    replies = [m.at for m in chat.messages if m.role == "agent" and m.at >= since]
    return min(replies) if replies else None


def _agents(facts: Facts, claims: Counter[str], resolved: Counter[str]) -> list[AgentFigures]:
    """Load and satisfaction per agent; a rating counts for the agent who resolved the
    conversation last."""
    ratings: dict[str, list[int]] = defaultdict(list)
    for chat in facts.chats:
        closers = [m.agent_id for m in chat.moves if m.kind == "resolved" and m.agent_id]
        if chat.rating is not None and closers:
            ratings[closers[-1]].append(chat.rating[0])
    figures = []
    for agent_id in sorted(set(claims) | set(resolved)):
        values = ratings.get(agent_id, [])
        figures.append(
            AgentFigures(
                agent_id=agent_id,
                name=facts.agent_names.get(agent_id, agent_id),
                claimed=claims[agent_id],
                resolved=resolved[agent_id],
                csat_average=round(sum(values) / len(values), 2) if values else None,
                ratings=len(values),
            )
        )
    return figures
