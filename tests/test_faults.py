"""Faults in the at-scale topology (tests/topology.py): a server killed mid-answer, PostgreSQL
and Redis restarted, the Chroma server down. Each test says what the customer and the agent
see; each leaves the topology running as it found it."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from bot.chat.models import Message
from handoff import queue
from retrieval.models import KbDocument
from tests.topology import (
    console,
    drain_queue,
    eventually,
    of_type,
    post,
    post_handoff,
    start_conversation,
    wait_for,
    widget,
)
from tests.widget_app import ANSWERABLE, ANSWERABLE_TOO

_SHOWN = ("customer", "bot", "agent", "system")  # what a widget shows (not agents' notes)
SLOW_ANSWER = " ".join(["Open Settings and choose Reset password."] * 10) + " [1]"


def _send(ws, client_id: str, text: str) -> None:
    ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))


def _stored(scale, conversation_id: str) -> list[tuple[int, str, str]]:
    with scale.sessions() as session:
        query = select(Message.seq, Message.role, Message.client_id).where(
            Message.conversation_id == conversation_id
        )
        return [tuple(row) for row in session.execute(query.order_by(Message.seq))]


def _is_answer(event: dict) -> bool:
    return event.get("type") == "message" and event.get("role") == "bot"


def test_a_server_killed_while_streaming_an_answer(scale):
    """The customer, on A, sees their question acknowledged and the answer start; A is killed
    (kill -9). The widget reconnects to B with the last seq it saw, and the answer comes from
    B whole, once: the half-streamed one is dropped, nothing acknowledged is lost."""
    scale.llm.reply, scale.llm.chunk_delay_s = SLOW_ANSWER, 0.5
    scale.llm.streamed.clear()
    conversation_id, token = start_conversation(scale.a)
    try:
        with widget(scale.a, token) as customer:
            wait_for(customer, of_type("state"))
            _send(customer, "q1", ANSWERABLE)
            ack = wait_for(customer, of_type("ack", client_id="q1"))
            wait_for(customer, of_type("token"))  # the answer is streaming from A
            scale.a.kill()
        scale.llm.chunk_delay_s = 0.0
        with widget(scale.b, token, after=ack["seq"]) as customer:
            answer = wait_for(customer, _is_answer, seconds=60)
        assert answer["seq"] == ack["seq"] + 1
        stored = _stored(scale, conversation_id)
        assert stored == [(1, "customer", "q1"), (2, "bot", None)]  # one question, one answer
    finally:
        scale.llm.reply, scale.llm.chunk_delay_s = "Open Settings and choose Reset password. [1]", 0
        scale.a.start()


def test_postgresql_restarts_mid_conversation(scale):
    """The customer's message sent while PostgreSQL is down gets "try again" and no ack (the
    widget keeps it in its outbox); the re-send after it is back is stored and answered once.
    Nothing from before the outage is lost."""
    conversation_id, token = start_conversation(scale.b)
    with widget(scale.b, token) as customer:
        wait_for(customer, of_type("state"))
        _send(customer, "before", ANSWERABLE)
        wait_for(customer, _is_answer)
        scale.postgres.stop()
        try:
            _send(customer, "during", ANSWERABLE_TOO)
            refused = wait_for(customer, of_type("error", client_id="during"))
            assert refused["code"] == "unavailable"
        finally:
            scale.postgres.start()
        _send(customer, "during", ANSWERABLE_TOO)  # the widget's retry
        wait_for(customer, of_type("ack", client_id="during"))
        wait_for(customer, lambda e: _is_answer(e) and e["seq"] == 4)
    stored = _stored(scale, conversation_id)
    assert [(role, client_id) for _, role, client_id in stored] == [
        ("customer", "before"),
        ("bot", None),
        ("customer", "during"),
        ("bot", None),
    ]


def test_redis_restarts(scale):
    """Redis restarts while the customer is on A and an agent's console is open on B. The
    processes reconnect: the customer's next message, answered through B's REST twin, reaches
    A's socket live again; when the customer then asks for a person, the agent's console on B
    shows them waiting; a widget that reconnects with its last seq gets whatever it missed
    from the database."""
    drain_queue(scale)
    conversation_id, token = start_conversation(scale.a)
    auth = {"Authorization": f"Bearer {token}"}
    agent = scale.staff("Hana", "agent")
    with widget(scale.a, token) as customer, console(scale.b, agent) as desk:
        wait_for(customer, of_type("state"))
        wait_for(desk, of_type("queue"))
        scale.redis.restart()

        def live_again() -> bool:
            client_id = f"after-{len(_stored(scale, conversation_id))}"
            path = f"{scale.b.url}/api/conversations/{conversation_id}/messages"
            message = {"client_id": client_id, "text": ANSWERABLE}
            httpx.post(path, json=message, headers=auth, timeout=120).raise_for_status()
            try:  # stored and answered by now: only the live delivery is in question
                wait_for(customer, of_type("message", client_id=client_id), seconds=10)
                return True
            except AssertionError:
                return False

        eventually(live_again, seconds=30, what="live events through the restarted Redis")
        post_handoff(scale.a, conversation_id, token)
        wait_for(customer, of_type("state", state="queued"))
        waiting = wait_for(
            desk,
            lambda e: (
                e["type"] == "queue"
                and conversation_id in [i["conversation_id"] for i in e["items"]]
            ),
        )
        assert waiting["items"][0]["conversation_id"] == conversation_id
    shown = [seq for seq, role, _ in _stored(scale, conversation_id) if role in _SHOWN]
    with widget(scale.b, token, after=0) as customer:
        replayed = [wait_for(customer, of_type("message")) for _ in shown]
    assert [e["seq"] for e in replayed] == shown
    drain_queue(scale)


def test_the_chroma_server_is_down(scale):
    """With Chroma down the customer is handed to a person (reason ``bot_unavailable``), not
    shown an error. An editor's save is kept and marked for re-indexing; when Chroma is back
    it is indexed and answered from."""
    eve = scale.staff("Eva", "editor")
    conversation_id, token = start_conversation(scale.a)
    article = {"doc_id": "glimmerfin-care", "title": "Glimmerfin care", "body": "Feed a "}
    article["body"] += "glimmerfin twice a day with glimmerfin pellets."
    scale.chroma.stop()
    try:
        with widget(scale.a, token) as customer:
            wait_for(customer, of_type("state"))
            _send(customer, "q", ANSWERABLE)
            wait_for(customer, of_type("state", state="queued"))
        saved = post(scale.b, "/api/kb/documents", eve, json=article)
        assert saved.status_code == 201, saved.text
    finally:
        scale.chroma.start()
    with scale.sessions() as session:
        ticket = queue.get_ticket(session=session, conversation_id=conversation_id)
    assert ticket.reason == "bot_unavailable"

    def state() -> str:
        with scale.sessions() as session:
            return session.get(KbDocument, "glimmerfin-care").index_state

    eventually(lambda: state() == "indexed", seconds=30, what="re-indexed after Chroma is back")
    question = {"question": "How often do I feed a glimmerfin?"}

    def found() -> bool:
        hits = post(scale.a, "/api/kb/test", eve, json=question).json()["hits"]
        return any(hit["doc_id"] == "glimmerfin-care" for hit in hits)

    eventually(found, seconds=5, what="the repaired article searchable")
