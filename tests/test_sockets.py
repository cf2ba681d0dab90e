"""The cap on the WebSockets one client address holds open (bot/sockets.py), on the widget's
and the agent console's sockets alike."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.app import create_app
from bot.sockets import SocketLimit
from tests.staff import signed_in_headers
from tests.widget_app import start


def _refused(client: TestClient, path: str, headers: dict[str, str] | None = None) -> tuple:
    """The close code and reason a socket to ``path`` gets straight after the handshake."""
    with client.websocket_connect(path, headers=headers or {}) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value.code, closed.value.reason


def test_past_the_cap_a_widget_or_agent_socket_is_closed_with_1008_too_many_connections(
    chat_settings,
):
    with TestClient(create_app(chat_settings(max_sockets_per_ip=2))) as client:
        _, token = start(client)
        agent = signed_in_headers(client.app, "agent")
        widget_path = f"/ws/widget?token={token}"
        with (
            client.websocket_connect(widget_path) as widget,
            client.websocket_connect("/ws/agent", headers=agent) as console,
        ):
            assert widget.receive_json()["type"] == "state"
            assert console.receive_json()["type"] == "hello"
            # The third from this address, of either kind, is refused before anything else.
            assert _refused(client, widget_path) == (1008, "too many connections")
            assert _refused(client, "/ws/agent", agent) == (1008, "too many connections")
            # The two open sockets go on as if nothing happened.
            widget.send_json({"type": "message", "client_id": "c1", "text": "hello"})
            assert widget.receive_json() == {"type": "ack", "client_id": "c1", "seq": 1}


def test_a_closed_socket_frees_its_slot(chat_settings):
    with TestClient(create_app(chat_settings(max_sockets_per_ip=1))) as client:
        _, token = start(client)
        path = f"/ws/widget?token={token}"
        for _ in range(3):  # one at a time, as often as the customer likes
            with client.websocket_connect(path) as ws:
                assert ws.receive_json()["type"] == "state"
                assert _refused(client, path) == (1008, "too many connections")
        # A socket the server closed (a bad token) frees its slot too.
        with client.websocket_connect("/ws/widget?token=bad") as ws:
            assert ws.receive_json()["code"] == "bad_token"
            with pytest.raises(WebSocketDisconnect):
                ws.receive_json()
        with client.websocket_connect(path) as ws:
            assert ws.receive_json()["type"] == "state"


async def _hold(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("open")
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


def test_the_cap_counts_each_address_on_its_own():
    app = Starlette(
        routes=[WebSocketRoute("/ws", _hold)], middleware=[Middleware(SocketLimit, per_ip=1)]
    )
    with (
        TestClient(app, client=("198.51.100.1", 4000)) as first,
        TestClient(app, client=("198.51.100.2", 4000)) as second,
        first.websocket_connect("/ws") as one,
        second.websocket_connect("/ws") as other,
    ):
        assert one.receive_text() == other.receive_text() == "open"
        assert _refused(first, "/ws") == (1008, "too many connections")
