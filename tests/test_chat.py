"""The chat service's decisions end to end over the real app: clarify, hand off with the
packet, come back after an agent resolved, and the port through which agents write."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.answering.prompts import NO_ANSWER
from bot.app import create_app
from bot.chat.models import Message
from handoff import queue
from tests.widget_app import ANSWERABLE, ANSWERABLE_TOO, bearer, receive_until, start

DOUBTFUL = ["What is the boiling point of mercury on Jupiter?", "Who won the 1962 chess olympiad?"]


def _post(client, conversation_id, token, client_id, text):
    reply = client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"client_id": client_id, "text": text},
        headers=bearer(token),
    )
    assert reply.status_code == 201
    return reply.json()["replies"]


def test_a_low_confidence_turn_asks_to_rephrase_then_hands_off_with_the_packet(chat_settings):
    # A threshold no retrieval reaches: every answer is low-confidence.
    with TestClient(create_app(chat_settings(handoff_threshold=0.999))) as client:
        conversation_id, token = start(client)
        (clarify,) = _post(client, conversation_id, token, "a", DOUBTFUL[0])
        (notice,) = _post(client, conversation_id, token, "b", DOUBTFUL[1])
        with client.app.state.sessionmaker() as session:
            ticket = queue.get_ticket(session=session, conversation_id=conversation_id)
    assert clarify["role"] == "bot" and "rephrase" in clarify["text"]
    assert clarify["confidence"] < 0.999
    assert notice["role"] == "system"
    assert (ticket.state, ticket.reason) == ("queued", "repeated_failure")
    packet = ticket.packet
    assert packet["goal"] and packet["reason"] == "repeated_failure"
    assert [m["text"] for m in packet["transcript"] if m["role"] == "customer"] == DOUBTFUL
    assert packet["attempts"][0]["question"] == DOUBTFUL[0]


def test_asking_to_rephrase_offers_the_best_article_only_when_it_is_plausible(chat_settings):
    # Every turn clarifies (threshold 0.999); the article is offered as a link, not as an answer,
    # for an on-topic question, and nothing is offered for an off-topic one.
    settings = chat_settings(handoff_threshold=0.999, suggest_threshold=0.2)
    with TestClient(create_app(settings)) as client:
        conversation_id, token = start(client)
        (on_topic,) = _post(client, conversation_id, token, "a", ANSWERABLE)
        conversation_id, token = start(client)
        (off_topic,) = _post(client, conversation_id, token, "b", DOUBTFUL[0])
    assert on_topic["confidence"] >= 0.2 and off_topic["confidence"] < 0.2
    assert "this article looks closest: [1]" in on_topic["text"] and "rephrase" in on_topic["text"]
    assert [c["n"] for c in on_topic["citations"]] == [1] and on_topic["citations"][0]["url"]
    assert "rephrase" in off_topic["text"] and off_topic["citations"] == []


def test_the_bot_is_silent_with_an_agent_and_answers_again_after_resolve(chat_client):
    conversation_id, token = start(chat_client)
    chat_client.post(f"/api/conversations/{conversation_id}/handoff", headers=bearer(token))
    now = datetime.now(UTC)
    with chat_client.app.state.sessionmaker() as session:
        claimed = queue.claim(
            session=session, conversation_id=conversation_id, agent_id="ann", now=now
        )
        assert claimed
    assert _post(chat_client, conversation_id, token, "w", ANSWERABLE) == []  # the agent's turn
    with chat_client.app.state.sessionmaker() as session:
        queue.resolve(session=session, conversation_id=conversation_id, now=now)
    (answer,) = _post(chat_client, conversation_id, token, "q", ANSWERABLE_TOO)
    assert answer["role"] == "bot" and answer["citations"]
    with chat_client.app.state.sessionmaker() as session:
        assert queue.state_of(session=session, conversation_id=conversation_id) == "bot"


def test_the_port_stores_agent_messages_and_delivers_them_live(chat_client):
    conversation_id, token = start(chat_client)
    port = chat_client.app.state.conversation_port
    with chat_client.websocket_connect(f"/ws/widget?token={token}") as ws:
        ws.receive_json()
        # Called from this thread, not the server's loop: the way handoff's sync code calls it.
        posted = port.post_message(conversation_id, "agent", "Hi, I'm Ann. <b>bold</b>", "Ann")
        port.publish(conversation_id, {"type": "typing", "role": "agent", "on": True})
        delivered = receive_until(ws, lambda e: e["type"] == "typing")
    assert delivered[0] == posted
    assert (posted["role"], posted["author"], posted["seq"]) == ("agent", "Ann", 1)
    assert port.transcript(conversation_id) == [posted]


@pytest.mark.parametrize("clarify_first", [True, False])
def test_a_remote_model_saying_no_answer_while_streaming_clarifies_or_hands_off(
    chat_settings, openai_server, clarify_first
):
    openai_server.reply = NO_ANSWER  # known only once the answer streams
    remote = chat_settings(
        llm="openai",
        openai_base_url=openai_server.base_url,
        llm_timeout_s=5,
        llm_max_retries=0,
        clarify_first=clarify_first,
    )
    with TestClient(create_app(remote)) as client:
        conversation_id, token = start(client)
        (reply,) = _post(client, conversation_id, token, "a", ANSWERABLE)
        with client.app.state.sessionmaker() as session:
            state = queue.state_of(session=session, conversation_id=conversation_id)
            stored = session.scalar(select(Message).where(Message.seq == reply["seq"]))
    assert openai_server.requests  # the model was asked
    assert reply["text"]  # never an empty bot message
    if clarify_first:
        assert (reply["role"], stored.decision, state) == ("bot", "clarify", "bot")
    else:
        assert (reply["role"], stored.decision, state) == ("system", "handoff", "queued")
    assert stored.reason == "no_answer"
