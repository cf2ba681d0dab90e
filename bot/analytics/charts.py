"""Server-rendered SVG charts: no script, no build step, readable without JavaScript.

Every label goes through ``markupsafe.escape``; the charts are ``Markup`` so that the template
does not escape the SVG itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from bot.analytics.schemas import DayVolume, HourVolume

_BAR = "#2f6fb0"
_SECOND = "#9cc3e6"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(width: int, height: int, title: str, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def daily_bars(days: Sequence[DayVolume]) -> Markup:
    """Conversations (dark) and customer messages (light) per day."""
    width, height, left, bottom = 640, 180, 30, 30
    top = max([d.customer_messages for d in days] + [d.conversations for d in days] + [1])
    slot = (width - left) / max(len(days), 1)
    bar = max(2.0, slot / 2 - 2)
    parts = []
    for i, day in enumerate(days):
        x = left + i * slot
        for offset, value, colour in (
            (0, day.conversations, _BAR),
            (bar, day.customer_messages, _SECOND),
        ):
            h = (height - bottom - 10) * value / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(day.day)}: {value}</title></rect>'
            )
        if len(days) <= 10 or i % max(1, len(days) // 8) == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 10}" font-size="10">{escape(day.day[5:])}</text>'
            )
    parts.append(f'<text x="0" y="12" font-size="10">{top}</text>')
    return _svg(width, height, "Conversations and customer messages per day", "".join(parts))


def hour_heatmap(hours: Sequence[HourVolume]) -> Markup:
    """Customer messages by hour of day (columns) and day of week (rows)."""
    cell, left, top_pad = 20, 36, 16
    peak = max([h.customer_messages for h in hours] + [1])
    parts = [
        f'<text x="{left + hour * cell + 2}" y="11" font-size="9">{hour}</text>'
        for hour in range(0, 24, 3)
    ]
    for weekday, name in enumerate(_WEEKDAYS):
        parts.append(
            f'<text x="0" y="{top_pad + weekday * cell + 14}" font-size="10">{name}</text>'
        )
    for h in hours:
        shade = h.customer_messages / peak
        parts.append(
            f'<rect x="{left + h.hour * cell}" y="{top_pad + h.weekday * cell}" '
            f'width="{cell - 2}" height="{cell - 2}" fill="{_BAR}" '
            f'fill-opacity="{0.08 + 0.92 * shade:.2f}"><title>{_WEEKDAYS[h.weekday]} '
            f"{h.hour:02d}:00: {h.customer_messages}</title></rect>"
        )
    width, height = left + 24 * cell, top_pad + 7 * cell
    return _svg(width, height, "Customer messages by hour and day of week", "".join(parts))


def hbars(values: dict[str, int] | dict[int, int], title: str) -> Markup:
    """One horizontal bar per label, with its count."""
    row, left, width = 20, 150, 480
    peak = max(list(values.values()) + [1])
    parts = []
    for i, (label, value) in enumerate(values.items()):
        w = (width - left - 40) * value / peak
        y = i * row
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="11">{escape(str(label))}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{_BAR}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 14}" font-size="11">{value}</text>'
        )
    return _svg(width, max(row, row * len(values)), title, "".join(parts))
