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


def test_draft_article_with_an_llm_is_marked_for_review(chat_settings, openai_server):
    """The editor's draft from one unanswered question, with the LLM writing the body."""
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from tests.staff import signed_in_headers

    drafted = "We accept cards and PayPal. TODO: confirm crypto."
    openai_server.reply = lambda body: (
        drafted if "help-center article" in body["messages"][0]["content"] else "NO_ANSWER"
    )
    settings = chat_settings(
        llm="openai", openai_base_url=openai_server.base_url, handoff_threshold=0.5
    )
    with TestClient(create_app(settings)) as client:
        created = client.post("/api/conversations", json={}).json()
        auth = {"authorization": f"Bearer {created['token']}"}
        path = f"/api/conversations/{created['conversation_id']}/messages"
        asked = client.post(
            path, json={"text": GROUPS["crypto"][0], "client_id": "a"}, headers=auth
        )
        seq = asked.json()["message"]["seq"]
        editor = signed_in_headers(client.app, "editor")
        ref = f"{created['conversation_id']}:{seq}"
        page = client.post(
            "/kb/draft",
            data={"question": ref, "csrf_token": editor["x-csrf-token"]},
            headers=editor,
        )
        assert page.status_code == 200
        assert drafted in page.text and "draft for" in page.text
        assert GROUPS["crypto"][0] in page.text
        refused = client.post(
            "/kb/draft",
            data={"question": ref},
            headers=signed_in_headers(client.app, "agent", email="a@x.com"),
        )
        assert refused.status_code == 403
