"""Knowledge gaps: unanswered questions grouped by meaning with the real embedding model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.analytics.gaps import Question, find_gaps
from bot.config import Settings

GROUPS = {
    "crypto": [
        "Can I pay with dogecoin?",
        "Do you accept cryptocurrency like bitcoin?",
        "Is it possible to pay using crypto coins?",
        "Can I pay for my order with crypto money?",
    ],
    "antarctica": [
        "Do you deliver to Antarctica?",
        "Can you ship my order to the South Pole?",
        "Is shipping to Antarctica possible?",
    ],
    "dog": [
        "What's the name of your office dog?",
        "Does your office have a dog, and what is it called?",
    ],
    "gift": ["Can I wrap my order as a gift?", "Do you offer gift wrapping?"],
}
START = datetime(2026, 11, 23, tzinfo=UTC)


def _questions() -> list[Question]:
    texts = [text for group in GROUPS.values() for text in group]
    return [
        Question(f"{n:02x}", 1, text, START + timedelta(minutes=n), "clarify", None)
        for n, text in enumerate(texts)
    ]


def test_paraphrases_of_one_missing_topic_fall_together(embeddings):
    gaps = find_gaps(_questions(), embeddings, distance=Settings().gap_distance)
    found = sorted(sorted(q.text for q in gap.questions) for gap in gaps)
    assert found == sorted(sorted(group) for group in GROUPS.values())
    assert [len(gap.questions) for gap in gaps] == [4, 3, 2, 2]  # the biggest first
    # Of equal size, the most recent first: the gift questions were asked last.
    assert {q.text for q in gaps[2].questions} == set(GROUPS["gift"])
    assert gaps[0].title in GROUPS["crypto"]


def test_a_lone_question_and_none(embeddings):
    [gap] = find_gaps(_questions()[:1], embeddings, distance=0.6)
    assert gap.title == GROUPS["crypto"][0] and len(gap.questions) == 1
    assert find_gaps([], embeddings, distance=0.6) == []
