"""The one state machine of a conversation, from the company's side.

    bot -> queued -> agent -> resolved
    queued -> bot      the customer cancels the request
    agent  -> bot      the agent returns the conversation to the bot
    agent  -> queued   the agent puts it back in the queue (transfer to "whoever is free");
                       a transfer to a named agent keeps the state ``agent`` and is no transition
    resolved -> bot    the customer writes again after resolution: the bot answers again, and a
                       new handoff starts from ``bot`` like any other

Staying in the same state is not a transition and is rejected too, so that a double click
cannot, say, resolve twice. Every state change in ``handoff.queue`` goes through
``check_transition``.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    bot = "bot"  # the bot answers
    queued = "queued"  # waiting for an agent; the bot is silent
    agent = "agent"  # an agent owns the conversation; the bot is silent
    resolved = "resolved"  # an agent closed it


ALLOWED: frozenset[tuple[State, State]] = frozenset(
    {
        (State.bot, State.queued),
        (State.queued, State.agent),
        (State.queued, State.bot),
        (State.agent, State.resolved),
        (State.agent, State.bot),
        (State.agent, State.queued),
        (State.resolved, State.bot),
    }
)


class IllegalTransition(ValueError):
    def __init__(self, old: State, new: State, why: str = "") -> None:
        allowed = sorted(b for a, b in ALLOWED if a == old)
        because = f" ({why})" if why else ""
        super().__init__(
            f"a conversation in state {old.value!r} cannot move to {new.value!r}{because}; "
            f"from {old.value!r} it may move to: {', '.join(allowed)}"
        )
        self.old, self.new = old, new


def check_transition(old: State | str, new: State | str) -> None:
    old, new = State(old), State(new)
    if (old, new) not in ALLOWED:
        raise IllegalTransition(old, new)


def bot_speaks(state: State | str) -> bool:
    """While a human owns the conversation (queued or agent), the bot never answers."""
    return State(state) in (State.bot, State.resolved)
