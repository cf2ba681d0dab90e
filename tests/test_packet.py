import json
from datetime import UTC, datetime

from handoff.packet import build_packet, render_packet

TRANSCRIPT = [
    {"role": "customer", "text": "hi", "seq": 1, "created_at": datetime(2026, 1, 1, tzinfo=UTC)},
    {"role": "bot", "text": "Hello! How can I help?", "seq": 2, "confidence": None},
    {"role": "customer", "text": "My  TV shows no\nsignal on HDMI 2", "seq": 3},
    {
        "role": "bot",
        "text": "Try selecting the HDMI 2 source.",
        "seq": 4,
        "confidence": 0.31,
        "citations": [
            {"n": 1, "doc_id": "tv-inputs", "title": "Inputs", "url": "/kb/inputs", "version": 2}
        ],
    },
    {"role": "customer", "text": "still nothing, get me a human", "seq": 5},
]


def build(**extra):
    values = {
        "transcript": TRANSCRIPT,
        "goal": "TV shows no signal on HDMI 2",
        "reason": "requested",
        "confidence": 0.31,
    } | extra
    return build_packet(**values)


def test_packet_is_json_and_keeps_everything():
    packet = build(waited_s=42, contact="a@example.com", detail="words")
    assert json.loads(json.dumps(packet)) == packet
    assert [m["seq"] for m in packet["transcript"]] == [1, 2, 3, 4, 5]
    assert packet["transcript"][0]["created_at"] == "2026-01-01T00:00:00+00:00"
    assert (packet["reason"], packet["detail"], packet["waited_s"], packet["contact"]) == (
        "requested",
        "words",
        42,
        "a@example.com",
    )


def test_attempts_are_the_bots_answers_with_sources():
    attempts = build()["attempts"]
    assert attempts[1] == {
        "question": "My  TV shows no\nsignal on HDMI 2",
        "answer": "Try selecting the HDMI 2 source.",
        "sources": [{"title": "Inputs", "url": "/kb/inputs", "doc_id": "tv-inputs", "version": 2}],
        "confidence": 0.31,
    }
    assert build(attempts=[])["attempts"] == []


def test_goal_comes_from_the_summariser_when_given():
    seen = []

    def summarise(text):
        seen.append(text)
        return "Customer's TV gets no picture on HDMI 2\nafter switching sources"

    packet = build(summarise=summarise)
    assert packet["goal"] == "Customer's TV gets no picture on HDMI 2 after switching sources"
    assert "[customer] still nothing, get me a human" in seen[0]


def test_goal_falls_back_to_the_condensed_question():
    def broken(_text):
        raise TimeoutError("LLM down")

    assert build(summarise=broken)["goal"] == "TV shows no signal on HDMI 2"
    assert build(summarise=lambda _text: "")["goal"] == "TV shows no signal on HDMI 2"
    assert len(build(goal="x" * 500)["goal"]) == 200


def test_plain_text_rendering():
    text = render_packet(build(waited_s=125, detail="words"))
    assert text.splitlines()[:5] == [
        "Goal: TV shows no signal on HDMI 2",
        "Reason: requested (words)",
        "Confidence: 0.31",
        "Waited: 2 min 5 s",
        "Contact: none given",
    ]
    assert "     A: Try selecting the HDMI 2 source. (confidence 0.31)" in text
    assert "     - Inputs </kb/inputs>" in text
    assert text.endswith("  [customer] still nothing, get me a human")


def test_rendering_with_nothing_tried():
    packet = build_packet(
        transcript=[{"role": "customer", "text": "agent"}],
        goal="agent",
        reason="requested",
        confidence=None,
    )
    text = render_packet(packet)
    assert "Confidence: n/a" in text and "  nothing" in text
