"""Helpers for the widget API and socket tests (their fixtures are in conftest.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

ANSWERABLE = "How do I reset my password?"
ANSWERABLE_TOO = "How do I set up my Tide Hub?"
XSS = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))"]


def start(client: TestClient, lang: str = "en") -> tuple[str, str]:
    reply = client.post("/api/conversations", json={"lang": lang})
    assert reply.status_code == 201
    body = reply.json()
    return body["conversation_id"], body["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def receive_until(ws, predicate, limit: int = 500) -> list[dict]:
    """Events up to and including the first that matches."""
    events = []
    for _ in range(limit):
        event = ws.receive_json()
        events.append(event)
        if predicate(event):
            return events
    raise AssertionError(f"no matching event in {events[-5:]}")


def is_reply(event: dict) -> bool:
    return event["type"] == "message" and event["role"] in ("bot", "system")
