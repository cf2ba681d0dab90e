import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from tests.widget_app import (
    ANSWERABLE,
    ANSWERABLE_TOO,
    XSS,
    bearer,
    start,
)


def _post(client, conversation_id, token, client_id, text):
    return client.post(
        f"/api/conversations/{conversation_id}/messages",
        json={"client_id": client_id, "text": text},
        headers=bearer(token),
    )


def _messages(client, conversation_id, token, after=0):
    reply = client.get(
        f"/api/conversations/{conversation_id}/messages",
        params={"after": after},
        headers=bearer(token),
    )
    assert reply.status_code == 200
    return reply.json()


def test_a_message_is_stored_and_answered_with_citations(chat_client):
    conversation_id, token = start(chat_client)
    reply = _post(chat_client, conversation_id, token, "c1", ANSWERABLE)
    assert reply.status_code == 201
    body = reply.json()
    assert body["duplicate"] is False
    assert (body["message"]["seq"], body["message"]["role"]) == (1, "customer")
    (answer,) = body["replies"]
    assert answer["role"] == "bot" and answer["seq"] == 2
    assert answer["citations"] and answer["citations"][0]["doc_id"]
    stored = {**answer, "stream_id": None}  # the stream's id is live-only
    assert _messages(chat_client, conversation_id, token) == [body["message"], stored]
    assert _messages(chat_client, conversation_id, token, after=1) == [stored]


def test_a_resent_client_id_returns_the_stored_message_once(chat_client):
    conversation_id, token = start(chat_client)
    first = _post(chat_client, conversation_id, token, "c1", ANSWERABLE).json()
    again = _post(chat_client, conversation_id, token, "c1", ANSWERABLE)
    assert again.status_code == 200
    assert again.json() == {"message": first["message"], "duplicate": True, "replies": []}
    assert len(_messages(chat_client, conversation_id, token)) == 2


def test_tokens_are_checked(chat_client):
    conversation_id, token = start(chat_client)
    other_id, other_token = start(chat_client)
    path = f"/api/conversations/{conversation_id}/messages"
    for headers in ({}, bearer("forged"), bearer(other_token)):
        reply = chat_client.get(path, headers=headers)
        assert reply.status_code == 401, headers
        assert reply.json()["detail"]["code"] == "bad_token"
    assert "another conversation" in chat_client.get(path, headers=bearer(other_token)).text
    assert _post(chat_client, other_id, token, "x", "hi").status_code == 401


def test_empty_and_oversized_messages_are_refused_clearly(chat_client):
    conversation_id, token = start(chat_client)
    limit = chat_client.app.state.settings.max_message_chars
    too_long = _post(chat_client, conversation_id, token, "l", "x" * (limit + 1))
    assert too_long.status_code == 413
    assert too_long.json()["detail"]["code"] == "too_long"
    assert str(limit) in too_long.json()["detail"]["message"]
    empty = _post(chat_client, conversation_id, token, "e", "   ")
    assert (empty.status_code, empty.json()["detail"]["code"]) == (422, "empty")
    assert _post(chat_client, conversation_id, token, "", "hi").status_code == 422
    assert _messages(chat_client, conversation_id, token) == []


def test_rate_limits_answer_429_with_retry_after(chat_settings):
    with TestClient(create_app(chat_settings(rate_limit_ip_per_minute=3))) as client:
        conversation_id, token = start(client)
        assert _post(client, conversation_id, token, "a", "hello").status_code == 201
        assert _post(client, conversation_id, token, "b", "hello").status_code == 201
        limited = _post(client, conversation_id, token, "c", "hello")
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert limited.json()["detail"]["code"] == "rate_limited"
        assert client.post("/api/conversations", json={}).status_code == 429


@pytest.mark.parametrize("payload", XSS)
def test_markup_is_returned_verbatim_as_json_text(chat_client, payload):
    conversation_id, token = start(chat_client)
    _post(chat_client, conversation_id, token, "x", payload)
    reply = chat_client.get(f"/api/conversations/{conversation_id}/messages", headers=bearer(token))
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()[0]["text"] == payload


def test_the_bot_is_silent_while_queued_and_answers_after_cancel(chat_client):
    conversation_id, token = start(chat_client)
    path = f"/api/conversations/{conversation_id}"
    (notice,) = chat_client.post(f"{path}/handoff", headers=bearer(token)).json()
    assert notice["role"] == "system" and "email" in notice["text"]  # nobody is online
    state = chat_client.get(f"{path}/state", headers=bearer(token)).json()
    assert (state["state"], state["position"], state["offline"]) == ("queued", 1, True)
    assert _post(chat_client, conversation_id, token, "w", ANSWERABLE).json()["replies"] == []
    assert chat_client.post(f"{path}/handoff", headers=bearer(token)).json() == []  # already queued
    (back,) = chat_client.delete(f"{path}/handoff", headers=bearer(token)).json()
    assert back["role"] == "system"
    assert chat_client.delete(f"{path}/handoff", headers=bearer(token)).status_code == 422
    again = _post(chat_client, conversation_id, token, "again", ANSWERABLE_TOO).json()
    assert [reply["role"] for reply in again["replies"]] == ["bot"]


def test_a_customer_may_leave_an_email(chat_client):
    conversation_id, token = start(chat_client, lang="zh")
    path = f"/api/conversations/{conversation_id}/contact"
    assert chat_client.post(path, json={"email": "nope"}, headers=bearer(token)).status_code == 422
    (thanks,) = chat_client.post(
        path, json={"email": "li@example.com"}, headers=bearer(token)
    ).json()
    assert "li@example.com" in thanks["text"] and "谢谢" in thanks["text"]


def test_feedback_and_rating(chat_client):
    conversation_id, token = start(chat_client)
    answer = _post(chat_client, conversation_id, token, "q", ANSWERABLE).json()["replies"][0]
    path = f"/api/conversations/{conversation_id}"
    vote = {"seq": answer["seq"], "value": "up"}
    assert chat_client.post(f"{path}/feedback", json=vote, headers=bearer(token)).status_code == 204
    wrong = {"seq": 1, "value": "up"}
    assert (
        chat_client.post(f"{path}/feedback", json=wrong, headers=bearer(token)).status_code == 422
    )
    rating = {"value": 5, "comment": "quick"}
    assert chat_client.post(f"{path}/rating", json=rating, headers=bearer(token)).status_code == 204
    bad = {"value": 0}
    assert chat_client.post(f"{path}/rating", json=bad, headers=bearer(token)).status_code == 422


def test_a_database_restart_loses_nothing(chat_client):
    conversation_id, token = start(chat_client)
    _post(chat_client, conversation_id, token, "a", ANSWERABLE)
    chat_client.app.state.sessionmaker.kw["bind"].dispose()
    assert _post(chat_client, conversation_id, token, "b", ANSWERABLE_TOO).status_code == 201
    assert [m["seq"] for m in _messages(chat_client, conversation_id, token)] == [1, 2, 3, 4]


def test_openapi_documents_the_widget_api(chat_client):
    assert chat_client.get("/docs").status_code == 200
    paths = chat_client.get("/openapi.json").json()["paths"]
    assert "/api/conversations/{conversation_id}/messages" in paths
    assert set(paths["/api/conversations/{conversation_id}/handoff"]) == {"post", "delete"}


def test_the_widget_files_and_the_demo_page_are_served(chat_client):
    script = chat_client.get("/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "css" in chat_client.get("/widget.css").headers["content-type"]
    page = chat_client.get("/")
    assert page.status_code == 200 and "widget.js" in page.text


def test_cors_allows_only_the_configured_origins(chat_settings):
    settings = chat_settings(allowed_origins=["https://shop.example"])
    with TestClient(create_app(settings)) as client:
        preflight = {"access-control-request-method": "POST"}
        allowed = client.options(
            "/api/conversations", headers={"origin": "https://shop.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        refused = client.options(
            "/api/conversations", headers={"origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in refused.headers


def test_after_and_seq_past_64_bits_are_422_not_500(chat_client):
    conversation_id, token = start(chat_client)
    path = f"/api/conversations/{conversation_id}"
    for after in (2**63, 2**64, -1):
        listed = chat_client.get(f"{path}/messages?after={after}", headers=bearer(token))
        assert listed.status_code == 422, after
    assert _messages(chat_client, conversation_id, token, after=2**63 - 1) == []
    for seq in (2**63, 2**64, -1):
        vote = {"seq": seq, "value": "up"}
        posted = chat_client.post(f"{path}/feedback", json=vote, headers=bearer(token))
        assert posted.status_code == 422, seq


@pytest.mark.parametrize(
    "body",
    [
        b'{"client_id": "a", "text": "\\ud800"}',  # escaped high surrogate, no pair
        b'{"client_id": "a", "text": "tail \\udfff"}',  # escaped low surrogate, no pair
        b'{"client_id": "\\ud83d", "text": "hi"}',  # in another field
        b'{"client_id": "a", "text": "\xed\xa0\x80"}',  # a surrogate's raw UTF-8 bytes
    ],
    ids=["high", "low", "client-id", "raw-bytes"],
)
def test_a_lone_surrogate_in_a_message_is_422_with_a_clear_reason_and_nothing_stored(
    chat_client, body
):
    conversation_id, token = start(chat_client)
    refused = chat_client.post(
        f"/api/conversations/{conversation_id}/messages",
        content=body,
        headers=bearer(token) | {"content-type": "application/json"},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"]["code"] == "invalid"
    assert "surrogate" in refused.json()["detail"]["message"]
    assert _messages(chat_client, conversation_id, token) == []


def test_a_surrogate_pair_is_a_character_and_is_stored(chat_client):
    conversation_id, token = start(chat_client)
    posted = chat_client.post(
        f"/api/conversations/{conversation_id}/messages",
        content=b'{"client_id": "a", "text": "hello \\ud83d\\ude00 and a \\\\ud800 that is text"}',
        headers=bearer(token) | {"content-type": "application/json"},
    )
    assert posted.status_code == 201
    assert posted.json()["message"]["text"] == "hello \U0001f600 and a \\ud800 that is text"
