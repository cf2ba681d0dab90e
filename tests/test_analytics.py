"""The supervisors' dashboard against a week seeded through the real APIs on a controlled
clock: every figure is checked against what the test counted itself while seeding."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from tests.analytics_seed import COMMENT, MONDAY, NOW, Clock, Week, seed_week
from tests.staff import signed_in_headers

# Seeding takes some twenty real turns of the engine, once for the module; on a loaded
# machine that outlasts the default timeout.
pytestmark = pytest.mark.timeout(1500)
PERIOD = {"period": "custom", "start": "2026-11-23", "end": "2026-11-30"}
SLA_S = 300


@pytest.fixture(scope="module")
def week(kb_index_dir, tmp_path_factory) -> Week:
    from bot.config import Settings
    from tests.conftest import KB_DIR

    settings = Settings(
        data_dir=kb_index_dir,
        database_url=f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'chat.db'}",
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="mon-fri 09:00-17:00",
        handoff_threshold=0.5,  # the KB's questions are answered, the others are not
        sla_wait_s=SLA_S,
        queue_alert_length=1,
        rate_limit_ip_per_minute=1000,
    )
    clock = Clock(MONDAY)
    with TestClient(create_app(settings, clock=clock)) as client:
        seeded = Week(client, clock)
        seed_week(seeded)
        yield seeded


@pytest.fixture(scope="module")
def supervisor(week) -> dict[str, str]:
    return signed_in_headers(week.client.app, "supervisor", email="sue@example.com")


@pytest.fixture(scope="module")
def board(week, supervisor) -> dict:
    response = week.client.get("/api/analytics", params=PERIOD, headers=supervisor)
    assert response.status_code == 200, response.text
    return response.json()


def _out_of_hours(moment: datetime) -> bool:
    return moment.weekday() >= 5 or not 9 <= moment.hour < 17


def _rank(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return ordered[math.ceil(share * len(ordered)) - 1] if ordered else None


def test_volume_per_day_per_hour_and_out_of_hours(week, board):
    volume = board["volume"]
    asked = [moment for chat in week.chats for moment in chat.asked]
    assert volume["conversations"] == len(week.chats) == 12
    assert volume["customer_messages"] == len(asked)
    by_day = Counter(chat.started.date().isoformat() for chat in week.chats)
    asked_by_day = Counter(moment.date().isoformat() for moment in asked)
    days = {(MONDAY + timedelta(days=n)).date().isoformat() for n in range(8)}
    assert {d["day"] for d in volume["days"]} == days
    for d in volume["days"]:
        assert (d["conversations"], d["customer_messages"]) == (
            by_day[d["day"]],
            asked_by_day[d["day"]],
        )
    by_hour = Counter((moment.weekday(), moment.hour) for moment in asked)
    assert len(volume["hours"]) == 7 * 24
    assert {
        (h["weekday"], h["hour"]): h["customer_messages"]
        for h in volume["hours"]
        if h["customer_messages"]
    } == dict(by_hour)
    out = [chat for chat in week.chats if _out_of_hours(chat.started)]
    assert volume["out_of_hours_messages"] == sum(map(_out_of_hours, asked)) > 0
    assert volume["out_of_hours_conversations"] == len(out)
    resolved = [c for c in out if c.outcome in ("confirmed", "assumed")]
    assert volume["out_of_hours_bot_resolved"] == len(resolved)


def test_the_bot_confirmed_apart_from_assumed(week, board):
    bot = board["bot"]
    outcomes = Counter(chat.outcome for chat in week.chats if chat.asked)
    resolution = bot["resolution"]
    assert resolution["engaged"] == sum(outcomes.values())
    for name in ("confirmed", "assumed", "handed_off", "unresolved", "ongoing"):
        assert resolution[name] == outcomes[name], name
    assert outcomes["confirmed"] == 3 and outcomes["assumed"] == 2  # the seed meant these
    assert bot["answers"] == sum(chat.turns["answer"] for chat in week.chats)
    assert bot["clarifications"] == sum(chat.turns["clarify"] for chat in week.chats)
    reasons = Counter(reason for chat in week.chats for reason in chat.handoffs)
    assert bot["handoffs_by_reason"] == dict(reasons)
    assert reasons["requested"] == 3
    assert bot["thumbs_down"] == week.thumbs_down == 1
    assert bot["answers_then_handoff"] == week.answers_then_handoff == 1


def test_the_people(week, board):
    people = board["people"]
    stays = week.stays
    claimed = [s for s in stays if s.agent]
    assert people["handoffs"] == len(stays) == 5
    assert people["claimed"] == len(claimed)
    assert people["abandoned"] == sum(s.abandoned for s in stays) == 1
    assert people["still_waiting"] == sum(s.left is None for s in stays) == 1
    breaches = [s for s in stays if ((s.left or NOW) - s.queued).total_seconds() > SLA_S]
    assert people["sla_breaches"] == len(breaches) == 2
    waits = [(s.left - s.queued).total_seconds() for s in claimed]
    firsts = [(s.first_reply - s.left).total_seconds() for s in claimed]
    spans = [(s.resolved - s.queued).total_seconds() for s in claimed]
    assert (people["wait_p50_s"], people["wait_p90_s"]) == (_rank(waits, 0.5), _rank(waits, 0.9))
    assert people["first_response_p50_s"] == _rank(firsts, 0.5)
    assert people["first_response_p90_s"] == _rank(firsts, 0.9)
    assert people["resolution_p50_s"] == _rank(spans, 0.5)
    assert people["resolution_p90_s"] == _rank(spans, 0.9)
    by_agent = {a["agent_id"]: a for a in people["agents"]}
    for name, agent_id in week.ids.items():
        mine = [s for s in claimed if s.agent == name]
        rated = [c.rating for c, s in _chat_of_stay(week) if s.agent == name and c.rating]
        assert by_agent[agent_id]["claimed"] == len(mine)
        assert by_agent[agent_id]["resolved"] == sum(s.resolved is not None for s in mine)
        expected = round(sum(rated) / len(rated), 2) if rated else None
        assert by_agent[agent_id]["csat_average"] == expected


def _chat_of_stay(week: Week):
    """(chat, stay) pairs: each stay belongs to the chat whose handoff opened it."""
    pairs, stays = [], iter(week.stays)
    for chat in sorted(week.chats, key=lambda c: c.started):
        for _ in chat.handoffs:
            pairs.append((chat, next(stays)))
    return pairs


def test_csat_and_live(week, board):
    ratings = [chat.rating for chat in week.chats if chat.rating]
    csat = board["csat"]
    assert csat["ratings"] == len(ratings) == 3
    assert csat["average"] == round(sum(ratings) / len(ratings), 2)
    assert csat["distribution"] == {str(v): ratings.count(v) for v in range(1, 6)}
    assert {c["comment"] for c in csat["comments"]} == {COMMENT, "slow"}
    live = board["live"]
    waiting = [s for s in week.stays if s.left is None]
    assert live["queue_length"] == len(waiting)
    assert live["longest_wait_s"] == round((NOW - waiting[0].queued).total_seconds())
    assert live["agents_online"] == 1  # Bob went offline
    queue = week.client.get("/api/agent/queue", headers=week.headers("Ana")).json()
    assert live["queue_length"] == len(queue["items"])  # what the console shows
    assert live["longest_wait_s"] == max(item["waited_s"] for item in queue["items"])
    [alert] = live["alerts"]  # the two requests on Thursday morning, until one gave up
    assert alert["peak"] == 2 and alert["alert_length"] == 1
    assert alert["started_at"].startswith("2026-11-26T10:01:00")
    assert alert["ended_at"].startswith("2026-11-26T10:03:20")


def test_every_figure_as_json_and_csv(week, supervisor, board):
    assert "/api/analytics/figures/{name}.csv" in week.client.get("/openapi.json").json()["paths"]
    for name in ("volume_by_day", "resolution", "agents", "csat_comments", "alerts"):
        table = week.client.get(
            f"/api/analytics/figures/{name}", params=PERIOD, headers=supervisor
        ).json()
        text = week.client.get(
            f"/api/analytics/figures/{name}.csv", params=PERIOD, headers=supervisor
        )
        assert text.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(text.text)))
        assert rows[0] == table["columns"]
        assert rows[1:] == [["" if v is None else str(v) for v in row] for row in table["rows"]]
    resolution = week.client.get(
        "/api/analytics/figures/resolution", params=PERIOD, headers=supervisor
    ).json()
    assert dict(resolution["rows"])["assumed"] == board["bot"]["resolution"]["assumed"]


def test_filters(week, supervisor):
    zh = week.client.get(
        "/api/analytics", params=PERIOD | {"lang": "zh"}, headers=supervisor
    ).json()
    assert zh["volume"]["conversations"] == sum(c.lang == "zh" for c in week.chats) == 1
    today = week.client.get("/api/analytics", params={"period": "today"}, headers=supervisor).json()
    assert today["volume"]["conversations"] == sum(
        c.started.date() == NOW.date() for c in week.chats
    )
    bad = week.client.get("/api/analytics", params={"period": "custom"}, headers=supervisor)
    assert bad.status_code == 422


def test_the_page_escapes_customer_text(week, supervisor):
    page = week.client.get(
        "/analytics", params=PERIOD, headers=supervisor | {"accept": "text/html"}
    )
    assert page.status_code == 200
    assert "&lt;b&gt;Great&lt;/b&gt;" in page.text and COMMENT not in page.text
    assert "<svg" in page.text


def test_an_agent_who_is_not_a_supervisor_is_refused(week):
    agent = week.headers("Ana")
    for path in (
        "/analytics",
        "/api/analytics",
        "/api/analytics/figures/csat.csv",
        "/api/analytics/figures/csat",
    ):
        assert week.client.get(path, headers=agent).status_code == 403, path
    assert week.client.get("/metrics", headers=agent).status_code == 401
    anonymous = week.client.get("/api/analytics")
    assert anonymous.status_code == 401
    admin = signed_in_headers(week.client.app, "admin", email="root2@example.com")
    assert week.client.get("/api/analytics", params=PERIOD, headers=admin).status_code == 200


def test_knowledge_gaps_from_the_week(week, supervisor):
    gaps = week.client.get("/api/analytics/gaps", params=PERIOD, headers=supervisor).json()
    from tests.analytics_seed import CRYPTO, PENGUIN

    assert {q["text"] for q in gaps[0]["questions"]} == set(CRYPTO)  # the biggest first
    penguins = [g for g in gaps if {q["text"] for q in g["questions"]} == {PENGUIN}]
    assert penguins and penguins[0]["size"] == 2  # asked in two conversations
    checked = week.client.post(
        "/api/analytics/gaps/recheck",
        json={"questions": [q["ref"] for q in gaps[0]["questions"]]},
        headers=supervisor,
    ).json()
    assert (checked["asked"], checked["answered"]) == (4, 0)  # nothing published yet
