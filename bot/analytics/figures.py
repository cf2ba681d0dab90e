"""The dashboard's figures about volume, the bot and satisfaction, from the period's facts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from bot.analytics.facts import Chat, Facts
from bot.analytics.outcomes import outcome
from bot.analytics.schemas import (
    BotFigures,
    CsatFigures,
    DayVolume,
    HourVolume,
    RatingComment,
    Resolution,
    Volume,
)
from handoff.hours import BusinessHours


def volume(facts: Facts, *, hours: BusinessHours, now: datetime, idle_s: int) -> Volume:
    period = facts.period
    chats_by_day: Counter[str] = Counter()
    messages_by_day: Counter[str] = Counter()
    by_hour: Counter[tuple[int, int]] = Counter()
    out_messages = out_chats = out_resolved = 0
    for chat in facts.chats:
        chats_by_day[period.local(chat.created_at).date().isoformat()] += 1
        if not hours.is_open(chat.created_at):
            out_chats += 1
            out_resolved += outcome(chat, now=now, idle_s=idle_s) in ("confirmed", "assumed")
        for message in chat.customer_texts():
            local = period.local(message.at)
            messages_by_day[local.date().isoformat()] += 1
            by_hour[local.weekday(), local.hour] += 1
            out_messages += not hours.is_open(message.at)
    days = [
        DayVolume(
            day=day.isoformat(),
            conversations=chats_by_day[day.isoformat()],
            customer_messages=messages_by_day[day.isoformat()],
        )
        for day in period.days()
    ]
    grid = [
        HourVolume(weekday=weekday, hour=hour, customer_messages=by_hour[weekday, hour])
        for weekday in range(7)
        for hour in range(24)
    ]
    return Volume(
        conversations=len(facts.chats),
        customer_messages=sum(messages_by_day.values()),
        days=days,
        hours=grid,
        out_of_hours_messages=out_messages,
        out_of_hours_conversations=out_chats,
        out_of_hours_bot_resolved=out_resolved,
    )


def bot_figures(facts: Facts, *, now: datetime, idle_s: int) -> BotFigures:
    engaged = [chat for chat in facts.chats if chat.customer_texts()]
    outcomes = Counter(outcome(chat, now=now, idle_s=idle_s) for chat in engaged)
    reasons: Counter[str] = Counter()
    answers = clarifications = thumbs_down = answers_then_handoff = 0
    for chat in facts.chats:
        handoffs = [m for m in chat.messages if m.decision == "handoff"]
        reasons.update(m.reason or "unknown" for m in handoffs)
        for message in chat.messages:
            if message.role != "bot":
                continue
            clarifications += message.decision == "clarify"
            if message.decision != "answer":
                continue
            answers += 1
            thumbs_down += chat.feedback.get(message.seq) == "down"
            answers_then_handoff += any(h.seq > message.seq for h in handoffs)
    return BotFigures(
        answers=answers,
        clarifications=clarifications,
        resolution=Resolution(engaged=len(engaged), **{k: outcomes[k] for k in _OUTCOMES}),
        handoffs_by_reason=dict(sorted(reasons.items())),
        thumbs_down=thumbs_down,
        answers_then_handoff=answers_then_handoff,
    )


_OUTCOMES = ("confirmed", "assumed", "handed_off", "unresolved", "ongoing")


def csat(chats: list[Chat]) -> CsatFigures:
    rated = [chat for chat in chats if chat.rating is not None]
    values = [chat.rating[0] for chat in rated if chat.rating]
    distribution = Counter(values)
    comments = [
        RatingComment(conversation_id=chat.id, rating=chat.rating[0], comment=chat.rating[1])
        for chat in rated
        if chat.rating and chat.rating[1].strip()
    ]
    return CsatFigures(
        ratings=len(values),
        average=round(sum(values) / len(values), 2) if values else None,
        distribution={value: distribution[value] for value in range(1, 6)},
        comments=comments,
    )
