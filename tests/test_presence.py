from datetime import UTC, datetime

import pytest

from handoff.hours import BusinessHours
from handoff.models import AgentStatus, Ticket
from handoff.presence import (
    Presence,
    active_load,
    fits,
    is_offline,
    online_agents,
    set_presence,
)
from handoff.queue import claim, open_handoff
from tests.handoff_db import temp_sessions

MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SUNDAY_10 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
HOURS = BusinessHours.parse("mon-fri 09:00-17:00", "UTC")


@pytest.fixture
def session(tmp_path):
    with temp_sessions(tmp_path) as factory, factory() as session:
        yield session


def test_set_presence_creates_and_updates(session):
    status = set_presence(
        session=session,
        agent_id="ann",
        presence="online",
        now=MONDAY_10,
        name="Ann",
        capacity=2,
        skills=["billing", "billing", "tech"],
        languages=["en"],
    )
    assert (status.name, status.capacity, status.skills) == ("Ann", 2, ["billing", "tech"])
    status = set_presence(session=session, agent_id="ann", presence=Presence.away, now=SUNDAY_10)
    assert (status.presence, status.capacity, status.languages) == ("away", 2, ["en"])
    assert status.last_seen == SUNDAY_10
    with pytest.raises(ValueError):
        set_presence(session=session, agent_id="ann", presence="asleep", now=SUNDAY_10)


def test_only_online_agents_are_online(session):
    for agent_id, presence in [("ann", "online"), ("bob", "away"), ("cy", "offline")]:
        set_presence(session=session, agent_id=agent_id, presence=presence, now=MONDAY_10)
    assert [a.agent_id for a in online_agents(session=session)] == ["ann"]


def test_load_counts_owned_conversations(session):
    for cid in ["c1", "c2", "c3"]:
        open_handoff(
            session=session,
            conversation_id=cid,
            reason="requested",
            priority=1,
            packet={},
            now=MONDAY_10,
        )
    claim(session=session, conversation_id="c1", agent_id="ann", now=MONDAY_10)
    claim(session=session, conversation_id="c2", agent_id="ann", now=MONDAY_10)
    assert active_load(session=session) == {"ann": 2}


@pytest.mark.parametrize(
    ("needs", "lang", "expected"),
    [
        ([], None, True),
        (["billing"], None, True),
        (["billing", "legal"], None, False),
        ([], "en", True),
        ([], "zh", False),
    ],
)
def test_routing_by_skills_and_language(needs, lang, expected):
    agent = AgentStatus(agent_id="ann", skills=["billing", "tech"], languages=["en", "fr"])
    assert fits(agent, Ticket(skills=needs, lang=lang)) is expected


def test_an_agent_without_languages_takes_any():
    agent = AgentStatus(agent_id="ann", skills=[], languages=[])
    assert fits(agent, Ticket(skills=[], lang="zh"))


def test_offline_outside_hours_or_with_nobody_online(session):
    assert is_offline(session=session, hours=HOURS, now=MONDAY_10)  # nobody online
    set_presence(session=session, agent_id="ann", presence="online", now=MONDAY_10)
    assert not is_offline(session=session, hours=HOURS, now=MONDAY_10)
    assert is_offline(session=session, hours=HOURS, now=SUNDAY_10)  # closed
