import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.chat.models import Feedback, Message
from tests.widget_app import (
    ANSWERABLE,
    ANSWERABLE_TOO,
    XSS,
    bearer,
    is_reply,
    receive_until,
    start,
)


def _connect(client, token, after=None, **kwargs):
    query = f"token={token}" + (f"&after={after}" if after is not None else "")
    return client.websocket_connect(f"/ws/widget?{query}", **kwargs)


def _open(client, token, after=None):
    """Connect and read the replay up to the state event that ends it."""
    ws = _connect(client, token, after).__enter__()
    replay = receive_until(ws, lambda e: e["type"] == "state")
    return ws, replay


def _ask(ws, client_id, text):
    """Send a message and read until the bot's turn is over (its typing indicator goes off)."""
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    return receive_until(ws, lambda e: e == {"type": "typing", "role": "bot", "on": False})


def _final(events):
    return [e for e in events if e["type"] == "message"][-1]


def _count(client, model, **where):
    with client.app.state.sessionmaker() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return session.scalar(query)


def test_an_answer_streams_as_tokens_then_arrives_with_citations(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        assert ws.receive_json() == {"type": "state", "state": "bot"}
        events = _ask(ws, "c1", ANSWERABLE)
    ack, *rest = events
    assert ack == {"type": "ack", "client_id": "c1", "seq": 1}
    assert {"type": "typing", "role": "bot", "on": True} in rest
    assert rest[-1] == {"type": "typing", "role": "bot", "on": False}
    tokens = [e for e in rest if e["type"] == "token"]
    final = _final(rest)
    assert final["role"] == "bot" and final["seq"] == 2
    assert len(tokens) > 1
    assert {t["stream_id"] for t in tokens} == {final["stream_id"]}
    assert "".join(t["text"] for t in tokens).strip() == final["text"]
    assert final["citations"], final
    citation = final["citations"][0]
    assert {"n", "doc_id", "title", "url", "version"} <= set(citation)
    assert citation["doc_id"] and citation["version"] >= 1
    assert f"[{citation['n']}]" in final["text"]
    assert 0 <= final["confidence"] <= 1


def test_reconnecting_replays_what_was_missed(chat_client):
    conversation_id, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        seen = _final(_ask(ws, "c1", ANSWERABLE))["seq"]
    # While the widget is away, the customer writes from another tab (REST here).
    posted = chat_client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"client_id": "c2", "text": "hello"},
        headers=bearer(token),
    ).json()
    assert posted["replies"]
    with _connect(chat_client, token, after=seen) as ws:
        replay = receive_until(ws, lambda e: e["type"] == "state")
    messages = [e for e in replay if e["type"] == "message"]
    assert [m["seq"] for m in messages] == [seen + 1, seen + 2]
    assert messages[0]["client_id"] == "c2" and messages[1]["role"] == "bot"
    assert "stream_id" not in messages[1]  # replayed, not streamed


def test_a_second_socket_of_the_conversation_sees_the_customer_and_the_answer(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as first, _connect(chat_client, token) as second:
        first.receive_json(), second.receive_json()
        _ask(first, "c1", ANSWERABLE)
        events = receive_until(second, is_reply)
    customer = next(e for e in events if e["type"] == "message")
    assert (customer["role"], customer["client_id"], customer["text"]) == (
        "customer",
        "c1",
        ANSWERABLE,
    )


def test_a_resent_client_id_is_acknowledged_again_and_stored_once(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        _ask(ws, "same", ANSWERABLE)
        ws.send_json({"type": "message", "client_id": "same", "text": ANSWERABLE})
        assert ws.receive_json() == {"type": "ack", "client_id": "same", "seq": 1}
        # Answered already: the re-send starts no second turn. The next message is seq 3.
        assert _ask(ws, "next", "hello")[0] == {"type": "ack", "client_id": "next", "seq": 3}
    assert _count(chat_client, Message, client_id="same") == 1


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_a_bad_token_gets_an_error_and_close_4401(chat_client, token):
    with _connect(chat_client, token) as ws:
        assert ws.receive_json()["code"] == "bad_token"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_a_token_signed_with_another_key_is_refused(chat_settings):
    with TestClient(create_app(chat_settings(secret_key="x" * 32))) as other:
        _, foreign = start(other)
    with TestClient(create_app(chat_settings())) as client, _connect(client, foreign) as ws:
        assert ws.receive_json()["code"] == "bad_token"


def test_bad_frames_get_errors_and_the_socket_stays_open(chat_client, chat_settings):
    limit = chat_client.app.state.settings.max_message_chars
    _, token = start(chat_client)
    frames = {
        "not json": "bad_json",
        "[1, 2]": "bad_json",
        json.dumps({"type": "dance"}): "bad_type",
        json.dumps({"text": "no type"}): "bad_type",
        json.dumps({"type": "message", "text": "no chat_client id"}): "invalid",
        json.dumps({"type": "message", "client_id": "e", "text": "  \n "}): "empty",
        json.dumps({"type": "message", "client_id": "l", "text": "x" * (limit + 1)}): "too_long",
        json.dumps({"type": "feedback", "seq": 99, "value": "up"}): "invalid",
        json.dumps({"type": "rating", "value": 9}): "invalid",
        json.dumps({"type": "contact", "email": "not an address"}): "invalid",
        json.dumps({"type": "cancel_handoff"}): "invalid",
    }
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        for frame, code in frames.items():
            ws.send_text(frame)
            error = ws.receive_json()
            assert (error["type"], error["code"]) == ("error", code), frame
            assert error["message"]
            if code in ("empty", "too_long"):  # names the message to stop re-sending
                assert error["client_id"] == json.loads(frame)["client_id"]
        assert _ask(ws, "ok", "hello")[0]["type"] == "ack"
    assert _count(chat_client, Message, role="customer") == 1


def test_rate_limited_messages_get_a_clear_error_with_the_wait(chat_settings):
    settings = chat_settings(rate_limit_conversation_per_minute=2)
    with TestClient(create_app(settings)) as client:
        _, token = start(client)
        with _connect(client, token) as ws:
            ws.receive_json()
            _ask(ws, "a", "hello")
            _ask(ws, "b", "hello")
            ws.send_json({"type": "message", "client_id": "c", "text": "hello"})
            error = ws.receive_json()
    assert error["code"] == "rate_limited"
    assert 0 < error["retry_after_s"] <= 60
    assert "try again" in error["message"]


@pytest.mark.parametrize("payload", XSS)
def test_markup_comes_back_as_the_same_text(chat_client, payload):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        _ask(ws, "x", payload)
    with _connect(chat_client, token) as ws:
        replay = receive_until(ws, lambda e: e["type"] == "state")
    assert replay[0]["text"] == payload  # verbatim: escaping is the widget's job


def test_the_origin_must_be_allowed(chat_settings):
    settings = chat_settings(allowed_origins=["https://shop.example"])
    with TestClient(create_app(settings)) as client:
        _, token = start(client)
        with pytest.raises(WebSocketDisconnect) as refused:
            with _connect(client, token, headers={"origin": "https://evil.example"}) as ws:
                ws.receive_json()
        assert refused.value.code == 4403
        with _connect(client, token, headers={"origin": "https://shop.example"}) as ws:
            assert ws.receive_json()["type"] == "state"


def test_feedback_and_rating_are_stored(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        answer = _final(_ask(ws, "q", ANSWERABLE))
        ws.send_json({"type": "feedback", "seq": answer["seq"], "value": "down"})
        ws.send_json({"type": "rating", "value": 4})
        ws.send_json({"type": "feedback", "seq": 1, "value": "up"})  # a customer message
        assert ws.receive_json()["code"] == "invalid"  # so the first two were handled
    assert _count(chat_client, Feedback, seq=answer["seq"], value="down") == 1


def test_the_bot_is_silent_while_a_person_is_asked_for(chat_client):
    conversation_id, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        ws.send_json({"type": "handoff_request"})
        events = receive_until(ws, is_reply)
        assert any(e["type"] == "state" and e["state"] == "queued" for e in events)
        assert events[-1]["role"] == "system" and "queue" in events[-1]["text"]
        ws.send_json({"type": "message", "client_id": "w", "text": ANSWERABLE})
        assert ws.receive_json()["type"] == "ack"
        # Cancelling waits for the turn in progress, so what came before it is complete.
        ws.send_json({"type": "cancel_handoff"})
        after = receive_until(ws, is_reply)
        assert [e["type"] for e in after] == ["state", "message"]
        assert after[0]["state"] == "bot"
        assert _final(_ask(ws, "again", "hello"))["role"] == "bot"  # the bot is back
    with chat_client.app.state.sessionmaker() as session:
        waited = session.scalar(select(Message).where(Message.client_id == "w"))
        following = session.scalar(select(Message).where(Message.seq == waited.seq + 1))
    assert following.role == "system"  # the cancel notice, no bot answer in between
    assert conversation_id == waited.conversation_id


def test_a_database_restart_loses_nothing(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        _ask(ws, "before", ANSWERABLE)
        chat_client.app.state.sessionmaker.kw["bind"].dispose()  # every pooled connection dropped
        events = _ask(ws, "after", ANSWERABLE_TOO)
    assert events[0] == {"type": "ack", "client_id": "after", "seq": 3}
    assert _final(events)["role"] == "bot"
    assert _count(chat_client, Message) == 4


def test_when_a_customer_stops_waiting_the_one_behind_hears_their_new_place(chat_client):
    _, first_token = start(chat_client)
    _, second_token = start(chat_client)
    with _connect(chat_client, first_token) as one, _connect(chat_client, second_token) as two:
        for ws in (one, two):  # one after the other: the first is first in line
            ws.receive_json()
            ws.send_json({"type": "handoff_request"})
            queued = receive_until(ws, is_reply)
        assert [e["position"] for e in queued if e["type"] == "state"] == [2]
        one.send_json({"type": "cancel_handoff"})
        assert receive_until(one, is_reply)[0] == {"type": "state", "state": "bot"}
        moved = receive_until(two, lambda e: e["type"] == "state" and e["position"] == 1)
    assert moved[-1]["state"] == "queued"


# --- hostile frames (issue 12: each used to drop the socket with 1006) ---
DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (json.dumps({"type": {"nested": "object"}}), "bad_type"),
        (json.dumps({"type": ["message"]}), "bad_type"),
        (json.dumps({"type": 7}), "bad_type"),
        (DEEP, "bad_json"),
        ('{"type": "message", "client_id": "d", "text": ' + DEEP + "}", "bad_json"),
        (json.dumps({"type": "feedback", "seq": 2**64, "value": "up"}), "invalid"),
        (json.dumps({"type": "feedback", "seq": -1, "value": "up"}), "invalid"),
        (json.dumps({"type": "message", "client_id": "s", "text": "\ud800"}), "invalid"),
        ('{"type": "message", "client_id": "s", "text": "\\udc00 alone"}', "invalid"),
    ],
    ids=[
        "type-object",
        "type-list",
        "type-number",
        "nested-10000-deep",
        "text-nested-10000-deep",
        "seq-past-64-bits",
        "seq-negative",
        "lone-high-surrogate",
        "lone-low-surrogate",
    ],
)
def test_a_hostile_frame_gets_an_error_event_the_socket_stays_open_and_nothing_is_lost(
    chat_client, frame, code
):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        assert _ask(ws, "before", "hello")[0] == {"type": "ack", "client_id": "before", "seq": 1}
        ws.send_text(frame)
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", code)
        assert error["message"] and len(error["message"]) < 200  # the frame is not echoed
        # The same socket goes on: the next message is stored right after the first turn.
        assert _ask(ws, "after", "hello")[0] == {"type": "ack", "client_id": "after", "seq": 3}
    assert _count(chat_client, Message, role="customer") == 2


def test_a_frame_past_the_size_limit_gets_too_long_and_the_socket_stays_open(chat_client):
    limit = chat_client.app.state.settings.max_message_chars
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        text = "\\u00e9" * (2 * limit)  # escaped: short as text, long as a frame
        ws.send_text(json.dumps({"type": "message", "client_id": "x", "text": "z" * 13 * limit}))
        error = ws.receive_json()
        assert (error["code"], "client_id" in error) == ("too_long", False)
        assert error["message"].startswith("The frame is longer than")
        # Escaped characters count once: 2 x the limit is still too long a message, no more.
        ws.send_text('{"type": "message", "client_id": "e", "text": "' + text + '"}')
        assert ws.receive_json() == {
            "type": "error",
            "code": "too_long",
            "message": f"The message is longer than {limit} characters.",
            "client_id": "e",
        }
        assert _ask(ws, "ok", "hello")[0]["type"] == "ack"


def test_a_binary_frame_is_read_as_utf8_json_and_invalid_utf8_gets_bad_json(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        ws.send_bytes(b'{"type": "message", "client_id": "\xff", "text": "hi"}')
        assert ws.receive_json()["code"] == "bad_json"
        ws.send_bytes(json.dumps({"type": "message", "client_id": "b", "text": "hello"}).encode())
        assert ws.receive_json() == {"type": "ack", "client_id": "b", "seq": 1}


@pytest.mark.parametrize("after", [str(2**63), str(2**64), "-1", "1e3", "abc"])
def test_an_after_that_is_no_64_bit_sequence_number_gets_invalid_then_close_1008(
    chat_client, after
):
    _, token = start(chat_client)
    with _connect(chat_client, token, after=after) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert (error["type"], error["code"]) == ("error", "invalid")
    assert error["message"].startswith("after:")
    assert closed.value.code == 1008


def test_the_largest_64_bit_after_is_accepted_and_replays_nothing(chat_client):
    _, token = start(chat_client)
    with _connect(chat_client, token) as ws:
        ws.receive_json()
        _ask(ws, "a", "hello")
    with _connect(chat_client, token, after=2**63 - 1) as ws:
        assert ws.receive_json() == {"type": "state", "state": "bot"}
