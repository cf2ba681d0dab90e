"""How a conversation ended for the bot: confirmed, assumed, handed off, unresolved, ongoing.

Confirmed and assumed are kept apart on purpose: "assumed" (it ended with no handoff and no
complaint) also holds the customers who gave up, so counting it as solved would hide them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.analytics.facts import Chat

# The customer says the answer solved it ("that worked, thanks", "问题解决了"): a confirmation.
_SOLVED = re.compile(
    r"\b(?:that|this|it|which)(?:'s|\s+has|\s+have)?\s+(?:solved|fixed|answered|worked|helped|"
    r"works|helps|sorted)\b|\bproblem\s+(?:solved|fixed)\b|\b(?:solved|fixed|sorted)\s+it\b|"
    r"\bthanks?,?\s+(?:that|this)\s+(?:is\s+)?(?:it|perfect|great)\b|解决了|搞定了",
    re.IGNORECASE,
)
GOOD_RATING = 4  # a rating of 4 or more confirms
BAD_RATING = 2  # a rating of 2 or less is a complaint


def says_solved(text: str) -> bool:
    return _SOLVED.search(text) is not None


def handed_off(chat: Chat) -> bool:
    return any(m.decision == "handoff" for m in chat.messages)


def outcome(chat: Chat, *, now: datetime, idle_s: int) -> str:
    """confirmed | assumed | handed_off | unresolved | ongoing (see ``schemas.Resolution``)."""
    if handed_off(chat):
        return "handed_off"
    rating = chat.rating[0] if chat.rating else None
    confirmed = (
        "up" in chat.feedback.values()
        or (rating is not None and rating >= GOOD_RATING)
        or any(says_solved(m.text) for m in chat.customer_texts())
    )
    if confirmed:
        return "confirmed"
    if "down" in chat.feedback.values() or (rating is not None and rating <= BAD_RATING):
        return "unresolved"
    last = chat.messages[-1].at if chat.messages else chat.created_at
    return "assumed" if now - last >= timedelta(seconds=idle_s) else "ongoing"
