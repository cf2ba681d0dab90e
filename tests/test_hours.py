from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.hours import BusinessHours

SPEC = "mon-fri 09:00-17:00; sat 10:00-14:00"


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_weekday_and_saturday_windows():
    hours = BusinessHours.parse(SPEC, "UTC")
    # 2026-11-23 is a Monday
    assert hours.is_open(at("2026-11-23 09:00"))
    assert hours.is_open(at("2026-11-23 16:59"))
    assert not hours.is_open(at("2026-11-23 17:00"))
    assert not hours.is_open(at("2026-11-23 08:59"))
    assert hours.is_open(at("2026-11-28 13:00"))  # Saturday
    assert not hours.is_open(at("2026-11-28 14:00"))
    assert not hours.is_open(at("2026-11-29 12:00"))  # Sunday


def test_same_instant_differs_by_zone():
    instant = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 02:00 UTC
    assert not BusinessHours.parse(SPEC, "UTC").is_open(instant)
    assert BusinessHours.parse(SPEC, "Asia/Shanghai").is_open(instant)  # 10:00 there
    assert not BusinessHours.parse(SPEC, "America/New_York").is_open(instant)  # Sunday 21:00


def test_next_open_after_hours_and_over_the_weekend():
    hours = BusinessHours.parse(SPEC, "Europe/Berlin")
    assert hours.next_open(at("2026-11-23 18:00", "Europe/Berlin")) == at(
        "2026-11-24 09:00", "Europe/Berlin"
    )
    assert hours.next_open(at("2026-11-28 15:00", "Europe/Berlin")) == at(
        "2026-11-30 09:00", "Europe/Berlin"
    )
    now = at("2026-11-24 10:00", "Europe/Berlin")
    assert hours.next_open(now) == now


def test_next_open_answers_in_the_business_zone():
    hours = BusinessHours.parse(SPEC, "America/New_York")
    opening = hours.next_open(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    assert opening == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert opening.utcoffset().total_seconds() == -5 * 3600


def test_wall_clock_hours_follow_dst():
    hours = BusinessHours.parse("daily 09:00-17:00", "Europe/Berlin")
    # 09:00 Berlin is 07:00 UTC in summer and 08:00 UTC in winter
    assert hours.is_open(datetime(2026, 7, 1, 7, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 12, 1, 7, 30, tzinfo=UTC))
    # the night of 2026-03-29 the clocks jump 02:00 -> 03:00
    assert hours.next_open(datetime(2026, 3, 28, 20, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )


def test_opening_inside_the_spring_forward_gap():
    hours = BusinessHours.parse("sun 02:30-05:00", "Europe/Berlin")
    opening = hours.next_open(at("2026-03-29 00:00", "Europe/Berlin"))
    assert opening == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert hours.is_open(datetime(2026, 3, 29, 1, 45, tzinfo=UTC))


def test_autumn_repeated_hour_counts_both_times():
    hours = BusinessHours.parse("sun 02:00-03:00", "Europe/Berlin")
    # 2026-10-25: 02:00-03:00 local happens twice (00:00-02:00 UTC)
    assert hours.is_open(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert hours.is_open(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert not hours.is_open(datetime(2026, 10, 25, 2, 30, tzinfo=UTC))


def test_overnight_window_and_split_day():
    hours = BusinessHours.parse("fri 22:00-02:00; mon,wed 09:00-12:00,13:00-24:00", "UTC")
    assert hours.is_open(at("2026-11-27 23:00"))  # Friday night
    assert hours.is_open(at("2026-11-28 01:59"))  # Saturday morning, same window
    assert not hours.is_open(at("2026-11-28 02:00"))
    assert not hours.is_open(at("2026-11-23 12:30"))  # Monday lunch
    assert hours.is_open(at("2026-11-23 23:59"))
    assert hours.next_open(at("2026-11-23 12:30")) == at("2026-11-23 13:00")


@pytest.mark.parametrize("spec", ["", "always", "24/7"])
def test_always_open(spec):
    hours = BusinessHours.parse(spec)
    assert hours.is_open(at("2026-11-29 03:00"))


def test_next_open_can_be_a_week_ahead():
    hours = BusinessHours.parse("mon 09:00-10:00")
    assert hours.next_open(at("2026-11-23 11:00")) == at("2026-11-30 09:00")


@pytest.mark.parametrize(
    "spec",
    ["mon-fri", "funday 09:00-10:00", "mon 9-17", "mon 09:00-25:00", "mon 10:00-10:00"],
)
def test_bad_specs_are_rejected(spec):
    with pytest.raises(ValueError, match="business hours"):
        BusinessHours.parse(spec)


def test_bad_zone_and_naive_time_are_rejected():
    with pytest.raises(Exception, match="Mars"):
        BusinessHours.parse(SPEC, "Mars/Olympus")
    with pytest.raises(ValueError, match="naive"):
        BusinessHours.parse(SPEC).is_open(datetime(2026, 11, 23, 10, 0))
