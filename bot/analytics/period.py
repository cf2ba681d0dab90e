"""The slice of history a report covers: a period in the support team's time zone, and the
filters (channel, language, skill)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PeriodName = Literal["today", "7d", "30d", "custom"]
_DAYS = {"today": 1, "7d": 7, "30d": 30}
MAX_CUSTOM_DAYS = 366


class PeriodError(ValueError):
    """A period that cannot be reported on; str() says why."""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, made of whole local days of ``tz``."""

    name: str
    start: datetime
    end: datetime
    tz: ZoneInfo

    def days(self) -> list[date]:
        first = self.start.astimezone(self.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)


@dataclass(frozen=True)
class Filters:
    channel: str | None = None
    lang: str | None = None
    skill: str | None = None


def make_period(
    name: PeriodName,
    *,
    now: datetime,
    timezone: str,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """``today``, the last 7 or 30 days (today included), or ``custom``: the local days from
    ``start`` to ``end``, both included."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    if name == "custom":
        if start is None or end is None:
            raise PeriodError("a custom period needs a start and an end date")
        if end < start:
            raise PeriodError("the end date is before the start date")
        if (end - start).days >= MAX_CUSTOM_DAYS:
            raise PeriodError(f"a custom period is at most {MAX_CUSTOM_DAYS} days")
        first, last = start, end
    else:
        first, last = today - timedelta(days=_DAYS[name] - 1), today
    try:
        return Period(name, _midnight(first, tz), _midnight(last + timedelta(days=1), tz), tz)
    except OverflowError as error:  # the first or last day that a datetime can hold
        raise PeriodError("the period is out of range") from error


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tz).astimezone(UTC)
