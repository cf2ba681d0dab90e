from datetime import UTC, datetime, timedelta

import pytest

from handoff.presence import set_presence
from handoff.queue import get_ticket, open_handoff, resolve
from handoff.routing import assign_waiting, auto_assign, claim_next, queued_tickets
from tests.handoff_db import temp_sessions

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path):
    with temp_sessions(tmp_path) as factory, factory() as session:
        yield session


def enqueue(session, cid, *, priority=30, minutes=0, tags=(), lang=None):
    open_handoff(
        session=session,
        conversation_id=cid,
        reason="low_confidence",
        priority=priority,
        packet={},
        now=T0 + timedelta(minutes=minutes),
        tags=tags,
        lang=lang,
    )


def agent(session, agent_id, *, capacity=2, skills=(), languages=(), presence="online"):
    set_presence(
        session=session,
        agent_id=agent_id,
        presence=presence,
        now=T0,
        capacity=capacity,
        skills=skills,
        languages=languages,
    )


def test_queue_order_is_priority_then_first_come(session):
    enqueue(session, "late-urgent", priority=90, minutes=5)
    enqueue(session, "first", minutes=1)
    enqueue(session, "second", minutes=2)
    enqueue(session, "tie-later-row", minutes=2)
    order = [t.conversation_id for t in queued_tickets(session=session)]
    assert order == ["late-urgent", "first", "second", "tie-later-row"]


def test_claim_next_can_take_one_channel(session):
    open_handoff(
        session=session,
        conversation_id="mail",
        reason="low_confidence",
        priority=30,
        packet={},
        now=T0 + timedelta(minutes=2),
        channel="email",
    )
    enqueue(session, "chat", minutes=1)  # a widget conversation, first in line
    assert [t.channel for t in queued_tickets(session=session)] == ["widget", "email"]
    assert [t.conversation_id for t in queued_tickets(session=session, channel="email")] == ["mail"]
    assert claim_next(session=session, agent_id="ann", now=T0, channel="email") == "mail"
    assert claim_next(session=session, agent_id="ann", now=T0, channel="email") is None
    assert claim_next(session=session, agent_id="ann", now=T0) == "chat"


def test_claim_next_takes_the_head_the_agent_fits(session):
    enqueue(session, "legal", priority=90, tags=["legal"])
    enqueue(session, "chinese", priority=80, lang="zh")
    enqueue(session, "plain", minutes=1, lang="en")
    agent(session, "ann", skills=["billing"], languages=["en"])
    assert claim_next(session=session, agent_id="ann", now=T0) == "plain"
    assert claim_next(session=session, agent_id="ann", now=T0) is None
    agent(session, "li", skills=["legal"], languages=["zh", "en"])
    assert claim_next(session=session, agent_id="li", now=T0) == "legal"
    assert claim_next(session=session, agent_id="li", now=T0) == "chinese"


def test_auto_assign_picks_the_least_busy_online_agent(session):
    agent(session, "ann", capacity=3)
    agent(session, "bob", capacity=3)
    agent(session, "cy", capacity=9, presence="away")
    for i in range(4):
        enqueue(session, f"c{i}", minutes=i)
    picked = [auto_assign(session=session, conversation_id=f"c{i}", now=T0) for i in range(4)]
    assert picked == ["ann", "bob", "ann", "bob"]


def test_auto_assign_prefers_spare_capacity_on_ties(session):
    agent(session, "ann", capacity=1)
    agent(session, "bob", capacity=4)
    enqueue(session, "c1")
    assert auto_assign(session=session, conversation_id="c1", now=T0) == "bob"


def test_auto_assign_respects_capacity(session):
    agent(session, "ann", capacity=1)
    enqueue(session, "c1")
    enqueue(session, "c2", minutes=1)
    assert auto_assign(session=session, conversation_id="c1", now=T0) == "ann"
    assert auto_assign(session=session, conversation_id="c2", now=T0) is None
    assert get_ticket(session=session, conversation_id="c2").state == "queued"
    resolve(session=session, conversation_id="c1", now=T0 + timedelta(minutes=4))
    assert auto_assign(session=session, conversation_id="c2", now=T0) == "ann"


def test_auto_assign_respects_skills_and_language(session):
    agent(session, "ann", skills=["billing"], languages=["en"])
    agent(session, "li", capacity=1, skills=[], languages=["zh"])
    enqueue(session, "billing-en", tags=["billing"], lang="en")
    enqueue(session, "zh", lang="zh")
    enqueue(session, "legal", tags=["legal"])
    assert auto_assign(session=session, conversation_id="billing-en", now=T0) == "ann"
    assert auto_assign(session=session, conversation_id="zh", now=T0) == "li"
    assert auto_assign(session=session, conversation_id="legal", now=T0) is None


def test_auto_assign_ignores_conversations_not_queued(session):
    agent(session, "ann")
    assert auto_assign(session=session, conversation_id="nobody", now=T0) is None


def test_assign_waiting_drains_the_queue_in_order(session):
    enqueue(session, "c1", minutes=1)
    enqueue(session, "c2", minutes=2, priority=60)
    enqueue(session, "c3", minutes=3)
    assert assign_waiting(session=session, now=T0) == []  # nobody online yet
    agent(session, "ann", capacity=2)
    assert assign_waiting(session=session, now=T0) == [("c2", "ann"), ("c1", "ann")]
    assert [t.conversation_id for t in queued_tickets(session=session)] == ["c3"]
