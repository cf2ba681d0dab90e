"""The LLM endpoint in trouble, over the whole app and the real widget socket: down, too slow
to answer, too slow to finish, breaking off mid-answer. Each time the customer is handed to a
person with the reason ``bot_unavailable`` (not an error), within the configured timeout, and
no half answer is left behind as if it were whole."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.chat.models import Message
from handoff import queue
from tests.widget_app import ANSWERABLE, receive_until, start

LONG_ANSWER = " ".join(["Open Settings, then choose Reset password and follow the steps."] * 8)


def _trouble(server, kind: str) -> None:
    match kind:
        case "down":
            server.status = 503
        case "stalls":  # never answers within the timeout (its HTTP read timeout)
            server.stall_s = 30
        case "trickles":  # answers, but piece by piece past the timeout for the whole answer
            server.reply, server.chunk_delay_s = LONG_ANSWER, 0.3
        case "breaks_off":  # three pieces, then the connection is cut
            server.reply, server.break_after = LONG_ANSWER, 3


@pytest.mark.parametrize("kind", ["down", "stalls", "trickles", "breaks_off"])
def test_a_failing_llm_hands_the_customer_to_a_person(chat_settings, openai_server, kind):
    """The customer sees their message acknowledged, perhaps the start of an answer that is
    then taken back, and the queue notice; the agents see a handoff with the reason
    ``bot_unavailable``. Nothing the model half-said is stored."""
    _trouble(openai_server, kind)
    settings = chat_settings(
        llm="openai", openai_base_url=openai_server.base_url, llm_timeout_s=2, llm_max_retries=0
    )
    with TestClient(create_app(settings)) as client:
        conversation_id, token = start(client)
        with client.websocket_connect(f"/ws/widget?token={token}") as ws:
            receive_until(ws, lambda e: e["type"] == "state")
            ws.send_json({"type": "message", "client_id": "q", "text": ANSWERABLE})
            events = receive_until(ws, lambda e: e["type"] == "message" and e["role"] == "system")
        with client.app.state.sessionmaker() as session:
            ticket = queue.get_ticket(session=session, conversation_id=conversation_id)
            roles = list(session.scalars(select(Message.role).order_by(Message.seq)))
    assert {"type": "ack", "client_id": "q", "seq": 1} in events
    assert (ticket.state, ticket.reason) == ("queued", "bot_unavailable")
    assert roles == ["customer", "system"]  # no bot message: nothing half-said kept as whole
    streams = {e["stream_id"] for e in events if e["type"] == "token"}
    aborted = {e["stream_id"] for e in events if e["type"] == "stream_aborted"}
    assert streams <= aborted  # every started answer was taken back
    if kind in ("trickles", "breaks_off"):
        assert streams  # the answer had begun before it failed
