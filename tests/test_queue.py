from datetime import timedelta

import pytest

from handoff.models import Ticket
from handoff.queue import (
    cancel,
    claim,
    get_ticket,
    open_handoff,
    resolve,
    return_to_bot,
    set_contact,
    state_of,
    transfer,
)
from handoff.states import IllegalTransition, State
from tests.handoff_db import (
    T0,
    assert_each_slot_filled_once,
    assert_one_alert_opens,
    assert_one_claim_wins,
    temp_sessions,
)


@pytest.fixture
def sessions(tmp_path):
    with temp_sessions(tmp_path) as factory:
        yield factory


@pytest.fixture
def session(sessions):
    with sessions() as session:
        yield session


def queue_one(session, cid="c1", *, now=T0, **extra):
    values = {"reason": "requested", "priority": 50, "packet": {"goal": "help"}} | extra
    return open_handoff(session=session, conversation_id=cid, now=now, **values)


def test_a_conversation_without_ticket_is_with_the_bot(session):
    assert state_of(session=session, conversation_id="nobody") is State.bot


def test_full_cycle(session):
    ticket = queue_one(session, tags=["billing"], lang="en", detail="words")
    assert state_of(session=session, conversation_id="c1") is State.queued
    assert (ticket.reason, ticket.skills, ticket.lang, ticket.handoffs) == (
        "requested",
        ["billing"],
        "en",
        1,
    )
    assert claim(session=session, conversation_id="c1", agent_id="ann", now=T0)
    session.expire_all()
    ticket = get_ticket(session=session, conversation_id="c1")
    assert (ticket.state, ticket.agent_id, ticket.claimed_at) == (State.agent, "ann", T0)
    later = T0 + timedelta(minutes=7)
    ticket = resolve(session=session, conversation_id="c1", now=later)
    assert (ticket.state, ticket.resolved_at, ticket.handled_s) == (State.resolved, later, 420)
    # the customer writes again: back to the bot, and a second handoff reuses the ticket
    return_to_bot(session=session, conversation_id="c1", now=later)
    ticket = queue_one(session, now=later, reason="frustration", priority=60)
    assert (ticket.state, ticket.reason, ticket.handoffs, ticket.agent_id) == (
        State.queued,
        "frustration",
        2,
        None,
    )


def test_claim_fails_when_not_queued(session):
    assert not claim(session=session, conversation_id="c1", agent_id="ann", now=T0)
    queue_one(session)
    assert claim(session=session, conversation_id="c1", agent_id="ann", now=T0)
    assert not claim(session=session, conversation_id="c1", agent_id="bob", now=T0)
    assert get_ticket(session=session, conversation_id="c1").agent_id == "ann"


def test_concurrent_claims_have_exactly_one_winner(sessions):
    assert_one_claim_wins(sessions)


def test_sessions_seeing_the_queue_pass_the_limit_at_once_open_one_alert(sessions):
    assert_one_alert_opens(sessions)


def test_customer_cancels_while_queued(session):
    queue_one(session)
    assert cancel(session=session, conversation_id="c1", now=T0).state == State.bot
    assert state_of(session=session, conversation_id="c1") is State.bot


def test_cancel_only_from_the_queue(session):
    queue_one(session)
    claim(session=session, conversation_id="c1", agent_id="ann", now=T0)
    with pytest.raises(IllegalTransition, match="only from 'queued'"):
        cancel(session=session, conversation_id="c1", now=T0)


def test_transfer_to_agent_and_back_to_queue_keeps_the_place(session):
    queue_one(session)
    claim(session=session, conversation_id="c1", agent_id="ann", now=T0)
    ticket = transfer(session=session, conversation_id="c1", to_agent_id="bob", now=T0)
    assert (ticket.state, ticket.agent_id) == (State.agent, "bob")
    ticket = transfer(session=session, conversation_id="c1", now=T0 + timedelta(minutes=3))
    assert (ticket.state, ticket.agent_id, ticket.queued_at) == (State.queued, None, T0)


def test_transfer_needs_an_agent_owner(session):
    queue_one(session)
    with pytest.raises(IllegalTransition, match="only an agent's conversation"):
        transfer(session=session, conversation_id="c1", to_agent_id="bob", now=T0)


@pytest.mark.parametrize(
    ("setup", "operation"),
    [
        ([], "resolve"),
        ([], "return_to_bot"),
        ([], "cancel"),
        (["queue"], "queue"),
        (["queue"], "resolve"),
        (["queue"], "return_to_bot"),
        (["queue", "claim"], "queue"),
        (["queue", "claim", "resolve"], "resolve"),
        (["queue", "claim", "resolve"], "queue"),
        (["queue", "claim", "resolve"], "back_to_queue"),
        (["queue", "cancel"], "cancel"),
        (["queue", "claim"], "cancel"),
    ],
)
def test_illegal_moves_through_the_queue_raise(session, setup, operation):
    steps = {
        "queue": lambda: queue_one(session),
        "claim": lambda: claim(session=session, conversation_id="c1", agent_id="ann", now=T0),
        "resolve": lambda: resolve(session=session, conversation_id="c1", now=T0),
        "return_to_bot": lambda: return_to_bot(session=session, conversation_id="c1", now=T0),
        "cancel": lambda: cancel(session=session, conversation_id="c1", now=T0),
        "back_to_queue": lambda: transfer(session=session, conversation_id="c1", now=T0),
    }
    for step in setup:
        steps[step]()
    before = state_of(session=session, conversation_id="c1")
    with pytest.raises(IllegalTransition):
        steps[operation]()
    session.rollback()
    assert state_of(session=session, conversation_id="c1") is before


def test_contact_is_kept_on_the_ticket_and_in_the_packet(session):
    queue_one(session, offline=True)
    ticket = set_contact(session=session, conversation_id="c1", email="a@example.com")
    assert (ticket.contact_email, ticket.packet["contact"], ticket.offline) == (
        "a@example.com",
        "a@example.com",
        True,
    )
    with pytest.raises(LookupError):
        set_contact(session=session, conversation_id="nobody", email="a@example.com")


def test_a_stale_copy_cannot_overwrite_a_claim(sessions):
    with sessions() as first:
        queue_one(first)
        stale = get_ticket(session=first, conversation_id="c1")
        ticket_id = stale.id
        with sessions() as second:
            assert claim(session=second, conversation_id="c1", agent_id="bob", now=T0)
        stale.priority = 99  # written from the copy read before the claim
        with pytest.raises(Exception, match="expected to update 1 row"):
            first.commit()
    with sessions() as check:
        assert check.get(Ticket, ticket_id).agent_id == "bob"


def test_sessions_auto_assigning_at_once_fill_each_free_slot_once(sessions):
    assert_each_slot_filled_once(sessions)
