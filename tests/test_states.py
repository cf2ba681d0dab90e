import itertools

import pytest

from handoff.states import ALLOWED, IllegalTransition, State, bot_speaks, check_transition

LEGAL = [
    ("bot", "queued"),
    ("queued", "agent"),
    ("queued", "bot"),
    ("agent", "resolved"),
    ("agent", "bot"),
    ("agent", "queued"),
    ("resolved", "bot"),
]
ILLEGAL = [pair for pair in itertools.product(State, State) if pair not in set(ALLOWED)]


def test_the_documented_transitions_are_exactly_the_allowed_ones():
    assert {(State(a), State(b)) for a, b in LEGAL} == ALLOWED
    assert len(ILLEGAL) == 16 - len(LEGAL)


@pytest.mark.parametrize(("old", "new"), LEGAL)
def test_legal_transitions_pass(old, new):
    check_transition(old, new)


@pytest.mark.parametrize(("old", "new"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_other_transition_raises(old, new):
    with pytest.raises(IllegalTransition, match=f"'{old}' cannot move to '{new}'") as info:
        check_transition(old, new)
    assert (info.value.old, info.value.new) == (old, new)


def test_error_lists_what_is_allowed():
    with pytest.raises(IllegalTransition, match="may move to: agent, bot"):
        check_transition(State.queued, State.resolved)


def test_unknown_state_is_rejected():
    with pytest.raises(ValueError):
        check_transition("bot", "limbo")


@pytest.mark.parametrize(
    ("state", "speaks"),
    [("bot", True), ("queued", False), ("agent", False), ("resolved", True)],
)
def test_bot_is_silent_while_a_human_owns_the_conversation(state, speaks):
    assert bot_speaks(state) is speaks
