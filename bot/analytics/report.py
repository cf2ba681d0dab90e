"""The whole dashboard for a period, and each of its figures as a table (for CSV and JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from bot.analytics.facts import load_facts
from bot.analytics.figures import bot_figures, csat, volume
from bot.analytics.people import people_figures
from bot.analytics.period import Filters, Period
from bot.analytics.schemas import AlertPublic, Dashboard, LiveFigures, Table
from bot.config import Settings
from handoff.alerts import alert_history
from handoff.hours import BusinessHours
from handoff.presence import online_agents
from handoff.waiting import list_queue


def build_dashboard(
    *, session: Session, settings: Settings, period: Period, filters: Filters, now: datetime
) -> Dashboard:
    facts = load_facts(session=session, period=period, filters=filters)
    hours = BusinessHours.parse(settings.business_hours, settings.timezone)
    idle_s = settings.conversation_idle_s
    return Dashboard(
        period=period.name,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        timezone=settings.timezone,
        filters={"channel": filters.channel, "lang": filters.lang, "skill": filters.skill},
        volume=volume(facts, hours=hours, now=now, idle_s=idle_s),
        bot=bot_figures(facts, now=now, idle_s=idle_s),
        people=people_figures(facts, now=now, sla_wait_s=settings.sla_wait_s),
        csat=csat(facts.chats),
        live=live(session=session, settings=settings, period=period, now=now),
    )


def live(*, session: Session, settings: Settings, period: Period, now: datetime) -> LiveFigures:
    """The console's own reading of the queue and the team (``handoff.waiting.list_queue``)."""
    view = list_queue(
        session=session,
        now=now,
        sla_wait_s=settings.sla_wait_s,
        alert_length=settings.queue_alert_length,
    )
    alerts = alert_history(session=session, since=period.start, until=period.end)
    return LiveFigures(
        queue_length=len(view.items),
        longest_wait_s=max((item.waited_s for item in view.items), default=0),
        agents_online=len(online_agents(session=session)),
        alerts=[
            AlertPublic(
                started_at=alert.started_at.isoformat(),
                ended_at=alert.ended_at.isoformat() if alert.ended_at else None,
                peak=alert.peak,
                alert_length=alert.alert_length,
            )
            for alert in alerts
        ],
    )


def _table(name: str, columns: list[str], rows: list[list]) -> Table:
    return Table(name=name, columns=columns, rows=rows)


def _pairs(name: str, values: dict) -> Table:
    return _table(name, ["figure", "value"], [[key, value] for key, value in values.items()])


# Each figure of the page as a table; the CSV and the per-figure JSON are made from these.
TABLES: dict[str, Callable[[Dashboard], Table]] = {
    "volume_by_day": lambda d: _table(
        "volume_by_day",
        ["day", "conversations", "customer_messages"],
        [[v.day, v.conversations, v.customer_messages] for v in d.volume.days],
    ),
    "volume_by_hour": lambda d: _table(
        "volume_by_hour",
        ["weekday", "hour", "customer_messages"],
        [[v.weekday, v.hour, v.customer_messages] for v in d.volume.hours],
    ),
    "volume": lambda d: _pairs("volume", d.volume.model_dump(exclude={"days", "hours"})),
    "resolution": lambda d: _pairs("resolution", d.bot.resolution.model_dump()),
    "bot": lambda d: _pairs("bot", d.bot.model_dump(exclude={"resolution", "handoffs_by_reason"})),
    "handoffs_by_reason": lambda d: _table(
        "handoffs_by_reason",
        ["reason", "handoffs"],
        [[k, v] for k, v in d.bot.handoffs_by_reason.items()],
    ),
    "people": lambda d: _pairs("people", d.people.model_dump(exclude={"agents"})),
    "agents": lambda d: _table(
        "agents",
        ["agent_id", "name", "claimed", "resolved", "csat_average", "ratings"],
        [list(a.model_dump().values()) for a in d.people.agents],
    ),
    "csat": lambda d: _table(
        "csat",
        ["rating", "count"],
        [[k, v] for k, v in d.csat.distribution.items()],
    ),
    "csat_comments": lambda d: _table(
        "csat_comments",
        ["conversation_id", "rating", "comment"],
        [list(c.model_dump().values()) for c in d.csat.comments],
    ),
    "live": lambda d: _pairs("live", d.live.model_dump(exclude={"alerts"})),
    "alerts": lambda d: _table(
        "alerts",
        ["started_at", "ended_at", "peak", "alert_length"],
        [list(a.model_dump().values()) for a in d.live.alerts],
    ),
}
