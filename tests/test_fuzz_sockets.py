"""Malformed and oversized frames against both sockets of a real server (uvicorn on loopback,
the websockets client), as an outside probe sends them: each frame gets an error event and
the socket stays open, or the socket is closed cleanly with a documented code; never 1006 (a
dropped connection) or 1011 (a server error). A normal message still works afterwards."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection as Socket
from websockets.sync.client import connect

from bot.app import create_app
from bot.config import Settings
from tests.browser import serve
from tests.conftest import KB_DIR
from tests.staff import signed_in_headers

# Closes a hostile frame may end in, all by the WebSocket layer (RFC 6455) or documented in
# docs/internals.md; anything else (1006, 1011) is a failure.
CLEAN_CLOSES = {
    1007: "a text frame that is not UTF-8",
    1008: "a connection parameter that is wrong (after)",
    1009: "a frame larger than the server takes (uvicorn's ws_max_size, 16 MiB)",
}
DEEP = "[" * 10_000 + "]" * 10_000
# Wrong for every field of every event: no field takes null, a fraction, an integer past 64
# bits, a list, an object or a lone surrogate.
WRONG = [None, 1.5, 2**70, [], {}, {"nested": [[[]]]}, "\ud800"]
WIDGET_EVENTS = {
    "message": {"client_id": "c", "text": "hello"},
    "feedback": {"seq": 1, "value": "up"},
    "rating": {"value": 5, "comment": "fine"},
    "contact": {"email": "someone@example.com"},
}
Send = Callable[[Socket], None]


def _text(frame: str) -> Send:
    return lambda ws: ws.send(frame)


def _raw(data: bytes, *, text: bool) -> Send:
    return lambda ws: ws.send(data, text=text)


def _announce_only(length: int) -> Send:
    """A masked text frame header that announces ``length`` payload bytes and sends none: the
    server can only refuse it by its header, before reading anything more."""
    header = bytes([0x81, 0x80 | 127]) + length.to_bytes(8, "big") + b"\0\0\0\0"
    return lambda ws: ws.socket.sendall(header)


def structural_frames(limit: int) -> list[tuple[str, Send]]:
    """Frames that are wrong before any field is read; ``limit``: a frame longer than this
    is past the socket's size limit."""
    return [
        ("empty", _text("")),
        ("not json", _text("not json")),
        ("json array", _text("[1, 2, 3]")),
        ("json string", _text('"message"')),
        ("json number", _text("9" * 400)),
        ("json null", _text("null")),
        ("nested 10000 deep", _text(DEEP)),
        ("object nested 10000 deep", _text('{"type": "message", "text": ' + DEEP + "}")),
        ("huge string", _text(json.dumps({"type": "message", "text": "x" * (limit + 1)}))),
        ("1 MB frame", _text(json.dumps({"type": "ping", "pad": "x" * 1_000_000}))),
        ("binary garbage", _raw(b"\x00\x80\xfe\xff", text=False)),
        ("binary invalid utf-8 json", _raw(b'{"type": "\xff"}', text=False)),
        ("text frame of invalid utf-8", _raw(b'{"type": "\xc3\x28"}', text=True)),
        ("a frame announcing 2**40 bytes", _announce_only(2**40)),
    ]


def wrong_type_frames(events: dict[str, dict[str, Any]]) -> list[tuple[str, Send]]:
    """Each event with each field (``type`` included) set to each wrong value in turn."""
    frames = []
    for kind, fields in events.items():
        event = {"type": kind, **fields}
        for field in event:
            for wrong in WRONG:
                frame = json.dumps(event | {field: wrong})
                frames.append((f"{kind}.{field}={wrong!r}"[:60], _text(frame)))
    return frames


def outcome(ws: Socket, send: Send) -> tuple[str, int | None]:
    """("error", None) when an error event came back; ("closed", code) when the socket closed."""
    try:
        send(ws)
        while True:
            event = json.loads(ws.recv(timeout=60))  # a bound, never a wait: replies come at once
            if event.get("type") == "error":
                return "error", None
    except ConnectionClosed as closed:
        return "closed", closed.rcvd.code if closed.rcvd else 1006


def run_batch(
    frames: list[tuple[str, Send]], open_socket: Callable[[], AbstractContextManager[Socket]]
) -> list[str]:
    """Send every frame, on a fresh socket after a clean close; what went wrong, one line each."""
    failures, pending = [], list(frames)
    while pending:
        with open_socket() as ws:
            while pending:
                label, send = pending.pop(0)
                kind, code = outcome(ws, send)
                if kind == "closed":
                    if code not in CLEAN_CLOSES:
                        failures.append(f"{label}: closed with {code}")
                    break
    return failures


@pytest.fixture(scope="module")
def site(tmp_path_factory, kb_full_dir) -> Iterator[tuple[str, Any]]:
    data = tmp_path_factory.mktemp("fuzz-sockets")
    shutil.copytree(kb_full_dir / "chroma", data / "chroma")
    settings = Settings(
        data_dir=data,
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        handoff_threshold=0.0,
        rate_limit_ip_per_minute=10_000,  # every frame comes from 127.0.0.1
        rate_limit_conversation_per_minute=10_000,
    )
    app = create_app(settings)
    with serve(app) as base_url:
        yield base_url, app


def _widget_url(base_url: str) -> str:
    created = httpx.post(f"{base_url}/api/conversations", json={}).json()
    return base_url.replace("http", "ws", 1) + f"/ws/widget?token={created['token']}"


@contextmanager
def _greeted(url: str, first: str, **kwargs: Any) -> Iterator[Socket]:
    """A socket, past the events up to the first of type ``first`` (the greeting)."""
    with connect(url, open_timeout=60, **kwargs) as ws:
        while json.loads(ws.recv(timeout=60))["type"] != first:
            pass
        yield ws


def test_hostile_frames_on_the_widget_socket_get_errors_or_clean_closes(site):
    base_url, app = site
    url = _widget_url(base_url)
    limit = app.state.settings.max_message_chars
    frames = structural_frames(limit) + wrong_type_frames(WIDGET_EVENTS)
    frames += [(f"type={t!r}", _text(json.dumps({"type": t}))) for t in [*WRONG, "dance"]]
    assert run_batch(frames, lambda: _greeted(url, "state")) == []
    # A normal message on a fresh socket: acknowledged, then answered.
    with _greeted(url, "state") as ws:
        ws.send(json.dumps({"type": "message", "client_id": "after-the-storm", "text": "hello"}))
        assert json.loads(ws.recv(timeout=60))["type"] == "ack"
        while (event := json.loads(ws.recv(timeout=60)))["type"] != "message":
            pass
        assert event["role"] == "bot" and event["text"]


def test_an_after_past_64_bits_gets_an_error_then_a_documented_close(site):
    base_url, _ = site
    with connect(f"{_widget_url(base_url)}&after={2**64}", open_timeout=60) as ws:
        assert outcome(ws, lambda ws: None) == ("error", None)
        assert outcome(ws, lambda ws: None) == ("closed", 1008)


def test_hostile_frames_on_the_agent_socket_get_errors_or_clean_closes(site):
    base_url, app = site
    headers = signed_in_headers(app, "agent", origin=base_url)
    url = base_url.replace("http", "ws", 1) + "/ws/agent"
    events = {
        "watch": {"conversation_id": "c0ffee"},
        "typing": {"conversation_id": "c0ffee", "on": True},
    }
    frames = structural_frames(4096) + wrong_type_frames(events)
    frames += [(f"type={t!r}", _text(json.dumps({"type": t}))) for t in [*WRONG, "dance"]]
    assert run_batch(frames, lambda: _greeted(url, "hello", additional_headers=headers)) == []
    with _greeted(url, "hello", additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "ping"}))
        while json.loads(ws.recv(timeout=60))["type"] != "pong":
            pass
