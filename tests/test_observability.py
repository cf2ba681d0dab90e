"""/metrics (Prometheus, per-app registry, protected) and JSON logs with request ids."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot import logs
from bot.app import create_app
from tests.staff import signed_in_headers


def _samples(text: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def test_metrics_count_turns_decisions_latency_queue_and_sockets(chat_settings):
    settings = chat_settings(metrics_token="s" * 24)
    with TestClient(create_app(settings)) as client:
        bearer = {"authorization": "Bearer " + "s" * 24}
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
        created = client.post("/api/conversations", json={}).json()
        auth = {"authorization": f"Bearer {created['token']}"}
        base = f"/api/conversations/{created['conversation_id']}"
        client.post(
            f"{base}/messages",
            json={"text": "How do I reset my password?", "client_id": "a"},
            headers=auth,
        )
        client.post(f"{base}/handoff", headers=auth)
        with client.websocket_connect(f"/ws/widget?token={created['token']}"):
            samples = _samples(client.get("/metrics", headers=bearer).text)
        assert samples["allhours_turns_total{}"] == 2  # the answer, and the handoff's notice
        assert samples["allhours_decisions_total{decision=answer,reason=}"] == 1
        assert samples["allhours_decisions_total{decision=handoff,reason=requested}"] == 1
        assert samples["allhours_turn_seconds_count{}"] == 1  # only the bot's turn is timed
        assert samples["allhours_queue_length{}"] == 1
        assert samples["allhours_open_websockets{path=/ws/widget}"] == 1
        assert samples["allhours_index_chunks{}"] > 0
        assert samples["allhours_llm_errors_total{}"] == 0
        supervisor = signed_in_headers(client.app, "supervisor")
        assert client.get("/metrics", headers=supervisor).status_code == 200
        after = _samples(client.get("/metrics", headers=bearer).text)
        assert after["allhours_open_websockets{path=/ws/widget}"] == 0


def test_responses_carry_a_request_id_and_json_lines_carry_the_ids(chat_client):
    given = chat_client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = chat_client.get("/healthz", headers={"x-request-id": "not ok!"})
    assert made.headers["x-request-id"] != "not ok" and len(made.headers["x-request-id"]) == 32
    logs.request_id.set("abc-123")
    logs.conversation_id.set("c0ffee")
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "turn %s", ("done",), None)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line | {"time": ""} == {
        "time": "",
        "level": "INFO",
        "logger": "bot",
        "message": "turn done",
        "request_id": "abc-123",
        "conversation_id": "c0ffee",
    }
