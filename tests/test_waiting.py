from datetime import UTC, datetime, timedelta

import pytest

from handoff.presence import set_presence
from handoff.queue import cancel, claim, open_handoff, resolve
from handoff.routing import claim_next
from handoff.waiting import average_handle_s, list_queue, queue_position
from tests.handoff_db import temp_sessions

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def session(tmp_path):
    with temp_sessions(tmp_path) as factory, factory() as session:
        yield session


def enqueue(session, cid, *, minutes, priority=30, goal=""):
    open_handoff(
        session=session,
        conversation_id=cid,
        reason="low_confidence",
        priority=priority,
        packet={"goal": goal},
        now=T0 + timedelta(minutes=minutes),
    )


def online(session, *agent_ids):
    for agent_id in agent_ids:
        set_presence(session=session, agent_id=agent_id, presence="online", now=T0)


def positions(session, *cids):
    return [queue_position(session=session, conversation_id=cid) for cid in cids]


def test_positions_move_as_the_queue_moves(session):
    online(session, "ann")
    for i, cid in enumerate(["a", "b", "c"]):
        enqueue(session, cid, minutes=i)
    assert positions(session, "a", "b", "c") == [(1, 300), (2, 600), (3, 900)]
    claim_next(session=session, agent_id="ann", now=T0)  # takes "a"
    assert positions(session, "a", "b", "c") == [None, (1, 300), (2, 600)]
    cancel(session=session, conversation_id="b", now=T0)
    assert positions(session, "c") == [(1, 300)]
    enqueue(session, "urgent", minutes=9, priority=90)  # jumps the line
    assert positions(session, "urgent", "c") == [(1, 300), (2, 600)]


def test_eta_divides_by_online_agents_and_learns_handle_time(session):
    enqueue(session, "a", minutes=0)
    assert positions(session, "a") == [(1, None)]  # nobody online: no promise
    online(session, "ann", "bob")
    enqueue(session, "b", minutes=1)
    enqueue(session, "c", minutes=2)
    assert positions(session, "c") == [(3, 450)]  # 3 x 300 s / 2 agents
    claim(session=session, conversation_id="a", agent_id="ann", now=T0)
    resolve(session=session, conversation_id="a", now=T0 + timedelta(seconds=120))
    assert average_handle_s(session=session) == 120
    assert positions(session, "b", "c") == [(1, 60), (2, 120)]


def test_default_handle_time_is_configurable(session):
    online(session, "ann")
    enqueue(session, "a", minutes=0)
    assert queue_position(session=session, conversation_id="a", default_handle_s=40) == (1, 40)


def test_list_queue_marks_sla_breaches_and_alerts(session):
    enqueue(session, "old", minutes=0, goal="reset my router")
    enqueue(session, "new", minutes=4)
    now = T0 + timedelta(minutes=5)
    view = list_queue(session=session, now=now, sla_wait_s=120, alert_length=1)
    assert [(i.conversation_id, i.position, i.waited_s, i.sla_breached) for i in view.items] == [
        ("old", 1, 300, True),
        ("new", 2, 60, False),
    ]
    assert view.items[0].goal == "reset my router"
    assert (view.alert, view.breached) == (True, 1)
    calm = list_queue(session=session, now=now, sla_wait_s=600, alert_length=2)
    assert (calm.alert, calm.breached) == (False, 0)
