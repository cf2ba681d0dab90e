"""Business hours in a time zone, parsed from a short spec.

Spec: ``"mon-fri 09:00-17:00; sat 10:00-14:00"``: groups separated by ``;``, each a day list
(``mon-fri``, ``sat,sun``, ``daily``) and one or more windows (``09:00-12:00,13:00-17:00``).
``24:00`` ends a day; a window that ends before it starts runs past midnight. An empty spec,
``always`` or ``24/7`` means always open. Windows are wall-clock times in the zone, so DST
moves them with the clocks; a start inside a spring-forward gap is pushed forward by the gap
(02:30 becomes 03:30), as the clocks themselves do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DAY_MINUTES = 24 * 60

Window = tuple[int, int]  # [start, end) in minutes after local midnight


@dataclass(frozen=True)
class BusinessHours:
    tz: ZoneInfo
    week: tuple[tuple[Window, ...], ...]  # seven entries, Monday first
    always: bool = False

    @classmethod
    def parse(cls, spec: str, timezone: str = "UTC") -> BusinessHours:
        tz = ZoneInfo(timezone)
        text = spec.strip().lower()
        if text in {"", "always", "24/7"}:
            return cls(tz, ((),) * 7, always=True)
        week: list[list[Window]] = [[] for _ in _DAYS]
        for group in filter(None, (g.strip() for g in text.split(";"))):
            parts = group.split()
            if len(parts) != 2:
                raise ValueError(f"business hours: expected 'days hh:mm-hh:mm', got {group!r}")
            for day in _parse_days(parts[0]):
                for start, end in map(_parse_window, parts[1].split(",")):
                    if end > start:
                        week[day].append((start, end))
                    else:  # past midnight: the rest of today and the start of tomorrow
                        week[day].append((start, _DAY_MINUTES))
                        week[(day + 1) % 7].append((0, end))
        return cls(tz, tuple(tuple(sorted(w)) for w in week))

    def is_open(self, now: datetime) -> bool:
        if self.always:
            return True
        local = _local(now, self.tz)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.week[local.weekday()])

    def next_open(self, now: datetime) -> datetime | None:
        """``now`` if open, else the next opening (aware, in the zone); None: never opens."""
        if self.is_open(now):
            return now
        local = _local(now, self.tz)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _end in self.week[day.weekday()]:
                opening = _wall(day, start, self.tz)
                if opening > now:
                    return opening
        return None


def _local(now: datetime, tz: ZoneInfo) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return now.astimezone(tz)


def _wall(day, minute: int, tz: ZoneInfo) -> datetime:
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    # A round trip through UTC moves a wall time inside a DST gap to just after it.
    return naive.replace(tzinfo=tz).astimezone(ZoneInfo("UTC")).astimezone(tz)


def _parse_days(text: str) -> list[int]:
    if text in {"daily", "everyday", "all"}:
        return list(range(7))
    days: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        try:
            a = _DAYS.index(first[:3])
            b = _DAYS.index(last[:3]) if last else a
        except ValueError:
            raise ValueError(f"business hours: unknown day in {text!r}") from None
        days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return days


def _parse_window(text: str) -> Window:
    found = _WINDOW.match(text)
    if not found:
        raise ValueError(f"business hours: expected hh:mm-hh:mm, got {text!r}")
    h1, m1, h2, m2 = map(int, found.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > _DAY_MINUTES or start == end:
        raise ValueError(f"business hours: bad window {text!r}")
    return start, end
