"""The agent console's routes and socket against the whole app (real SQLite, real hub, the
real widget socket on the customer's side): roles, CSRF, claim, reply, typing, notes, canned
responses, transfer, return to bot, resolve, presence, queue positions, SLA and alert."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.staff.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    StaffSession,
    csrf_token,
    new_session,
    sign_session,
)
from bot.staff.users import User, create_user, open_sign_in
from handoff import console_ws
from handoff.models import Ticket, utcnow
from handoff.queue import get_ticket

ORIGIN = "http://testserver"
Event = dict[str, Any]


@dataclass(frozen=True)
class Member:
    """A signed-in staff member: the headers a browser of theirs would send."""

    id: int
    name: str
    cookie: str
    csrf: str

    def headers(self, *, csrf: bool = True) -> dict[str, str]:
        headers = {"cookie": f"{SESSION_COOKIE}={self.cookie}", "origin": ORIGIN}
        return headers | ({"x-csrf-token": self.csrf} if csrf else {})

    @property
    def agent_id(self) -> str:
        return str(self.id)


class Clock:
    """The app's clock (Unix seconds), moved by a test instead of waiting."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Console:
    def __init__(self, client: TestClient, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.clock = client.app.state.clock

    def member(self, name: str, *roles: str) -> Member:
        with session_scope(self.client.app.state.sessionmaker) as db:
            user_id = create_user(
                session=db,
                email=f"{name.lower()}@example.com",
                name=name,
                password="a long password",
                roles=roles,
            ).id
        return self.signed_in(user_id, name, new_session(user_id, now=self.clock()))

    def signed_in(self, user_id: int, name: str, session: StaffSession) -> Member:
        """The member with ``session`` opened as a sign-in, as the login form opens it."""
        with session_scope(self.client.app.state.sessionmaker) as db:
            open_sign_in(session=db, sid=session.sid, user_id=user_id, max_age_s=SESSION_MAX_AGE_S)
        cookie = sign_session(self.settings, session)
        return Member(user_id, name, cookie, csrf_token(self.settings, session.sid))

    def get(self, who: Member | None, path: str, **kwargs: Any) -> Any:
        headers = who.headers() if who else {}
        return self.client.get(path, headers=headers | kwargs.pop("headers", {}), **kwargs)

    def send(self, who: Member, method: str, path: str, *, csrf: bool = True, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=who.headers(csrf=csrf), **kwargs)

    def customer(self) -> tuple[str, str]:
        created = self.client.post("/api/conversations", json={}).json()
        return created["conversation_id"], created["token"]

    def ticket(self, conversation_id: str) -> Ticket | None:
        with self.client.app.state.sessionmaker() as session:
            return get_ticket(session=session, conversation_id=conversation_id)


@pytest.fixture
def console(chat_settings) -> Iterator[Console]:
    # An SLA target of an hour: no ticket of a test reaches it unless the test backdates it.
    settings = chat_settings(sla_wait_s=3600, queue_alert_length=1)
    with TestClient(create_app(settings, clock=Clock())) as client:
        yield Console(client, settings)


def wait_for(ws: Any, match: Callable[[Event], bool], *, limit: int = 60) -> Event:
    """The first event that matches, reading at most ``limit`` events."""
    seen = []
    for _ in range(limit):
        event = ws.receive_json()
        if match(event):
            return event
        seen.append(event.get("type"))
    raise AssertionError(f"no matching event among {seen}")


def of_type(kind: str, **fields: Any) -> Callable[[Event], bool]:
    return lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items())


def hand_off(console: Console, customer_ws: Any) -> None:
    """The customer presses "Talk to a person" and hears their place in the queue."""
    customer_ws.send_json({"type": "handoff_request"})
    wait_for(customer_ws, of_type("state", state="queued"))


def test_the_page_and_the_api_need_the_agent_role(console):
    agent = console.member("Ana", "agent")
    editor = console.member("Eve", "editor")
    page = {"accept": "text/html"}
    anonymous = console.client.get("/agent", headers=page, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Fagent")
    assert console.get(editor, "/agent", headers=page).status_code == 403
    ok = console.get(agent, "/agent", headers=page)
    assert ok.status_code == 200
    assert f'<meta name="csrf-token" content="{agent.csrf}">' in ok.text
    assert "/agent/static/console.js" in ok.text
    assert console.client.get("/agent/static/console.js").status_code == 200
    assert console.client.get("/agent/static/base.html").status_code == 404

    conversation_id, _ = console.customer()
    for path in ("/api/agent/queue", f"/api/agent/conversations/{conversation_id}"):
        assert console.client.get(path).status_code == 401
        assert console.get(editor, path).status_code == 403  # an editor reads no conversation
    assert console.get(agent, "/api/agent/queue").status_code == 200


def test_an_editor_who_is_also_an_agent_reads_conversations(console):
    both = console.member("Max", "agent", "editor")
    conversation_id, token = console.customer()
    with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
        wait_for(customer, of_type("state"))
        customer.send_json({"type": "message", "client_id": "c1", "text": "hello there"})
        wait_for(customer, lambda e: e.get("type") == "message" and e.get("role") == "bot")
    view = console.get(both, f"/api/agent/conversations/{conversation_id}").json()
    assert view["state"] == "bot" and view["packet"] is None
    assert [m["role"] for m in view["transcript"]] == ["customer", "bot"]


def test_the_agent_socket_refuses_customers_editors_and_other_sites(console):
    editor = console.member("Eve", "editor")
    agent = console.member("Ana", "agent")
    _, token = console.customer()
    attempts = [
        ({"origin": ORIGIN}, f"/ws/agent?token={token}", 4401),  # a customer's token is no sign-in
        (editor.headers(), "/ws/agent", 4403),
        (agent.headers() | {"origin": "https://evil.example"}, "/ws/agent", 4403),
    ]
    for headers, path, code in attempts:
        with console.client.websocket_connect(path, headers=headers) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == code
    with console.client.websocket_connect("/ws/agent", headers=agent.headers()) as ws:
        hello = wait_for(ws, of_type("hello"))
        assert hello["agent_id"] == agent.agent_id and hello["presence"] == "online"


def test_state_changes_need_the_csrf_token(console):
    agent = console.member("Ana", "agent")
    admin = console.member("Root", "admin")
    conversation_id, token = console.customer()
    with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
        wait_for(customer, of_type("state"))
        hand_off(console, customer)
    claim = f"/api/agent/conversations/{conversation_id}/claim"
    assert console.send(agent, "POST", claim, csrf=False).status_code == 403
    wrong = {"x-csrf-token": admin.csrf}  # another session's token
    response = console.client.post(claim, headers=agent.headers(csrf=False) | wrong)
    assert response.status_code == 403
    assert console.ticket(conversation_id).state == "queued"
    canned = {"shortcut": "/hi", "title": "Hi", "text": "Hello!"}
    response = console.send(admin, "POST", "/api/agent/canned", csrf=False, json=canned)
    assert response.status_code == 403
    assert console.send(agent, "POST", claim).status_code == 200


def test_handoff_claim_reply_typing_note_and_return_to_bot(console):
    ana = console.member("Ana", "agent")
    bob = console.member("Bob", "agent")
    conversation_id, token = console.customer()
    base = f"/api/agent/conversations/{conversation_id}"
    with (
        console.client.websocket_connect("/ws/agent", headers=ana.headers()) as agent_ws,
        console.client.websocket_connect(f"/ws/widget?token={token}") as customer,
    ):
        wait_for(agent_ws, of_type("queue"))
        wait_for(customer, of_type("state"))
        hand_off(console, customer)
        queued = wait_for(agent_ws, of_type("queued", conversation_id=conversation_id))
        assert queued["reason"] == "requested"
        snapshot = wait_for(agent_ws, of_type("queue"))
        assert [i["conversation_id"] for i in snapshot["items"]] == [conversation_id]
        assert snapshot["items"][0]["reason"] == "requested"

        view = console.get(ana, base).json()
        assert view["state"] == "queued" and view["packet"]["reason"] == "requested"
        assert view["transcript"][-1]["role"] == "system"  # the queue notice

        assert console.send(ana, "POST", f"{base}/messages", json={"text": "hi"}).status_code == 409
        assert console.send(ana, "POST", f"{base}/claim").status_code == 200
        joined = wait_for(customer, of_type("state", state="agent"))
        assert joined == {"type": "state", "state": "agent", "agent": "Ana"}
        assert console.send(bob, "POST", f"{base}/claim").status_code == 409
        assert console.send(bob, "POST", f"{base}/messages", json={"text": "x"}).status_code == 403
        mine = wait_for(agent_ws, lambda e: e.get("type") == "queue" and e["mine"])
        assert mine["items"] == [] and mine["mine"][0]["conversation_id"] == conversation_id

        agent_ws.send_json({"type": "watch", "conversation_id": conversation_id})
        wait_for(agent_ws, of_type("watching", conversation_id=conversation_id))
        customer.send_json({"type": "typing"})
        typing = wait_for(agent_ws, of_type("typing", conversation_id=conversation_id))
        assert typing["on"] is True
        customer.send_json({"type": "message", "client_id": "m1", "text": "<b>still there?</b>"})
        wait_for(customer, of_type("ack", client_id="m1"))
        seen = wait_for(agent_ws, of_type("message", conversation_id=conversation_id))
        assert seen["message"]["text"] == "<b>still there?</b>"

        agent_ws.send_json({"type": "typing", "conversation_id": conversation_id, "on": True})
        typing = wait_for(customer, of_type("typing", role="agent"))
        assert typing == {"type": "typing", "role": "agent", "on": True, "author": "Ana"}
        reply = console.send(ana, "POST", f"{base}/messages", json={"text": "Yes, I'm here."})
        assert reply.status_code == 201
        heard = wait_for(customer, lambda e: e.get("type") == "message" and e["role"] == "agent")
        assert heard["text"] == "Yes, I'm here." and heard["author"] == "Ana"

        note = console.send(ana, "POST", f"{base}/notes", json={"text": "SECRET internal note"})
        assert note.status_code == 201
        wait_for(agent_ws, of_type("note", conversation_id=conversation_id))
        assert console.send(ana, "POST", f"{base}/return").status_code == 200
        back = wait_for(customer, of_type("state", state="bot"))
        assert back == {"type": "state", "state": "bot"}
        customer.send_json(
            {"type": "message", "client_id": "m2", "text": "How do I set up my Tide Hub?"}
        )
        answer = wait_for(customer, lambda e: e.get("type") == "message" and e["role"] == "bot")
        assert answer["citations"]

    stored = console.client.get(
        f"/api/conversations/{conversation_id}/messages",
        params={"after": 0},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    messages = stored["messages"] if isinstance(stored, dict) else stored
    assert all("SECRET" not in m["text"] for m in messages)  # notes never reach the customer
    view = console.get(ana, base).json()
    assert [n["text"] for n in view["notes"]] == ["SECRET internal note"]
    assert view["notes"][0]["agent"] == "Ana"


def test_claims_move_the_queue_and_waiting_customers_hear_their_new_place(console):
    ana = console.member("Ana", "agent")
    first, first_token = console.customer()
    second, second_token = console.customer()
    with (
        console.client.websocket_connect(f"/ws/widget?token={first_token}") as one,
        console.client.websocket_connect(f"/ws/widget?token={second_token}") as two,
    ):
        for ws in (one, two):
            wait_for(ws, of_type("state"))
            hand_off(console, ws)
        assert console.send(ana, "POST", "/api/agent/claim-next").json()["conversation_id"] == first
        moved = wait_for(two, lambda e: e.get("type") == "state" and e.get("position") == 1)
        assert moved["state"] == "queued"
        assert (
            console.send(ana, "POST", f"/api/agent/conversations/{first}/resolve").status_code
            == 200
        )
        assert wait_for(one, of_type("state", state="agent"))["agent"] == "Ana"
        resolved = wait_for(one, of_type("state", state="resolved"))
        assert resolved == {"type": "state", "state": "resolved"}
    assert console.ticket(first).state == "resolved"
    assert console.ticket(second).state == "queued"


def test_transfer_to_a_colleague_or_back_to_the_queue(console):
    ana = console.member("Ana", "agent")
    bob = console.member("Bob", "agent")
    conversation_id, token = console.customer()
    base = f"/api/agent/conversations/{conversation_id}"
    with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
        wait_for(customer, of_type("state"))
        hand_off(console, customer)
        console.send(ana, "POST", f"{base}/claim")
        wait_for(customer, of_type("state", state="agent"))
        offline = console.send(ana, "POST", f"{base}/transfer", json={"to_agent_id": bob.agent_id})
        assert offline.status_code == 409  # Bob has not opened the console
        console.get(bob, "/api/agent/me")
        moved = console.send(ana, "POST", f"{base}/transfer", json={"to_agent_id": bob.agent_id})
        assert moved.status_code == 200
        assert wait_for(customer, of_type("state", agent="Bob")) == {
            "type": "state",
            "state": "agent",
            "agent": "Bob",
        }
        assert console.ticket(conversation_id).agent_id == bob.agent_id
        assert console.send(ana, "POST", f"{base}/resolve").status_code == 403
        assert console.send(bob, "POST", f"{base}/transfer", json={}).status_code == 200
        wait_for(customer, of_type("state", state="queued"))
    assert console.ticket(conversation_id).state == "queued"


def test_presence_and_capacity_limit_claims(console):
    ana = console.member("Ana", "agent")
    ids = []
    for _ in range(2):
        conversation_id, token = console.customer()
        with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
            wait_for(customer, of_type("state"))
            hand_off(console, customer)
        ids.append(conversation_id)
    status = console.send(
        ana, "PUT", "/api/agent/presence", json={"presence": "away", "capacity": 1}
    )
    assert status.json() == {"agent_id": ana.agent_id, "presence": "away", "capacity": 1}
    assert console.get(ana, "/api/agent/me").json()["presence"] == "away"
    assert console.send(ana, "POST", f"/api/agent/conversations/{ids[0]}/claim").status_code == 200
    full = console.send(ana, "POST", f"/api/agent/conversations/{ids[1]}/claim")
    assert full.status_code == 409 and "1 conversations" in full.json()["detail"]
    bad = console.send(ana, "PUT", "/api/agent/presence", json={"presence": "asleep"})
    assert bad.status_code == 422


def test_sla_breaches_are_flagged_and_supervisors_alerted(console):
    root = console.member("Root", "admin")
    ids = []
    for _ in range(2):
        conversation_id, token = console.customer()
        with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
            wait_for(customer, of_type("state"))
            hand_off(console, customer)
        ids.append(conversation_id)
    with session_scope(console.client.app.state.sessionmaker) as session:
        ticket = session.get(Ticket, console.ticket(ids[0]).id)
        ticket.queued_at = utcnow() - timedelta(hours=2)  # waited past the hour's target
    with console.client.websocket_connect("/ws/agent", headers=root.headers()) as ws:
        snapshot = wait_for(ws, of_type("queue"))
        assert [i["sla_breached"] for i in snapshot["items"]] == [True, False]
        assert snapshot["breached"] == 1 and snapshot["alert"] is True  # 2 waiting, alert above 1
        assert wait_for(ws, of_type("sla_breach"))["conversation_id"] == ids[0]
        assert wait_for(ws, of_type("alert")) == {"type": "alert", "length": 2, "limit": 1}


def test_canned_responses_are_read_by_agents_and_written_by_admins(console):
    ana = console.member("Ana", "agent")
    root = console.member("Root", "admin")
    body = {"shortcut": "/refund", "title": "Refunds", "text": "Refunds take 5 days.", "lang": "en"}
    assert console.send(ana, "POST", "/api/agent/canned", json=body).status_code == 403
    created = console.send(root, "POST", "/api/agent/canned", json=body)
    assert created.status_code == 201
    canned_id = created.json()["id"]
    assert console.send(root, "POST", "/api/agent/canned", json=body).status_code == 409
    changed = console.send(
        root, "PUT", f"/api/agent/canned/{canned_id}", json=body | {"text": "Refunds take a week."}
    )
    assert changed.json()["text"] == "Refunds take a week."
    assert [c["shortcut"] for c in console.get(ana, "/api/agent/canned").json()] == ["/refund"]
    assert console.send(ana, "DELETE", f"/api/agent/canned/{canned_id}").status_code == 403
    assert console.send(root, "DELETE", f"/api/agent/canned/{canned_id}").status_code == 204
    assert console.get(ana, "/api/agent/canned").json() == []
    assert console.send(root, "DELETE", f"/api/agent/canned/{canned_id}").status_code == 404


def test_a_canned_response_id_past_64_bits_is_422_not_500(console):
    admin = console.member("Root", "admin")
    canned = {"shortcut": "/hi", "title": "Hi", "text": "Hello!"}
    for canned_id in (2**63, 2**64, 0):
        path = f"/api/agent/canned/{canned_id}"
        assert console.send(admin, "PUT", path, json=canned).status_code == 422
        assert console.send(admin, "DELETE", path).status_code == 422
    assert console.send(admin, "DELETE", f"/api/agent/canned/{2**63 - 1}").status_code == 404


def test_with_auto_assignment_waiting_customers_go_to_agents_as_they_come_online(console):
    console.client.app.state.console.auto_assign = True
    ana = console.member("Ana", "agent")
    console.send(ana, "PUT", "/api/agent/presence", json={"presence": "away", "capacity": 1})
    first, first_token = console.customer()
    second, second_token = console.customer()
    with (
        console.client.websocket_connect(f"/ws/widget?token={first_token}") as one,
        console.client.websocket_connect(f"/ws/widget?token={second_token}") as two,
    ):
        for ws in (one, two):
            wait_for(ws, of_type("state"))
            hand_off(console, ws)
        assert console.ticket(first).state == "queued"  # Ana is away: nobody takes it
        console.send(ana, "PUT", "/api/agent/presence", json={"presence": "online"})
        # Wait for the event that answers the question, not the first state event: a queue
        # update (a waiting customer's place) may come before or after an assignment.
        assert wait_for(one, of_type("state", state="agent")) == {
            "type": "state",
            "state": "agent",
            "agent": "Ana",
        }
        # Ana is full (one slot): the second stays in the queue, now first in line. Any other
        # state (given to an agent) ends the wait too, and fails.
        moved = wait_for(two, lambda e: e.get("type") == "state" and e.get("position") != 2)
        assert (moved["state"], moved.get("position")) == ("queued", 1)
        assert (
            console.send(ana, "POST", f"/api/agent/conversations/{first}/resolve").status_code
            == 200
        )
        assert wait_for(two, of_type("state", state="agent"))["agent"] == "Ana"
    assert console.ticket(second).agent_id == ana.agent_id


def test_with_auto_assignment_a_new_handoff_goes_to_an_online_agent(console):
    console.client.app.state.console.auto_assign = True
    ana = console.member("Ana", "agent")
    conversation_id, token = console.customer()
    with (
        console.client.websocket_connect("/ws/agent", headers=ana.headers()) as agent_ws,
        console.client.websocket_connect(f"/ws/widget?token={token}") as customer,
    ):
        wait_for(agent_ws, of_type("queue"))
        wait_for(customer, of_type("state"))
        customer.send_json({"type": "handoff_request"})
        assert wait_for(customer, of_type("state", state="agent"))["agent"] == "Ana"
        claimed = wait_for(agent_ws, of_type("claimed", conversation_id=conversation_id))
        assert claimed["agent_id"] == ana.agent_id


def test_a_widget_connecting_after_the_claim_hears_the_agent_by_name(console):
    ana = console.member("Ana", "agent")
    conversation_id, token = console.customer()
    base = f"/api/agent/conversations/{conversation_id}"
    with console.client.websocket_connect(f"/ws/widget?token={token}") as customer:
        wait_for(customer, of_type("state"))
        hand_off(console, customer)
        assert console.send(ana, "POST", f"{base}/claim").status_code == 200
        live = wait_for(customer, of_type("state", state="agent"))
    with console.client.websocket_connect(f"/ws/widget?token={token}") as again:
        on_connect = wait_for(again, of_type("state"))
    assert live["agent"] == on_connect["agent"] == "Ana"  # the name, never the user id
    assert console.send(ana, "POST", f"{base}/resolve").status_code == 200
    with console.client.websocket_connect(f"/ws/widget?token={token}") as later:
        assert wait_for(later, of_type("state")) == {
            "type": "state",
            "state": "resolved",
            "agent": "Ana",
        }


def test_auto_assignment_from_settings_gives_a_new_handoff_to_an_online_agent(chat_settings):
    settings = chat_settings(auto_assign=True)
    with TestClient(create_app(settings)) as client:
        console = Console(client, settings)
        assert client.app.state.console.auto_assign
        ana = console.member("Ana", "agent")
        # Online without a console open: the ticket is assigned as it opens, not by a console.
        console.send(ana, "PUT", "/api/agent/presence", json={"presence": "online"})
        conversation_id, token = console.customer()
        with client.websocket_connect(f"/ws/widget?token={token}") as customer:
            wait_for(customer, of_type("state"))
            hand_off(console, customer)
            joined = wait_for(customer, of_type("state", state="agent"))
        assert joined == {"type": "state", "state": "agent", "agent": "Ana"}
        assert console.ticket(conversation_id).agent_id == ana.agent_id


def _closed_code(ws: Any, *, limit: int = 200) -> int:
    """Read until the server closes the socket; its close code."""
    for _ in range(limit):
        try:
            ws.receive_json()
        except WebSocketDisconnect as closed:
            return closed.code
    raise AssertionError("the socket stayed open")


@pytest.fixture
def quick_ticks(monkeypatch):
    monkeypatch.setattr(console_ws, "TICK_S", 0.05)


def test_an_open_agent_socket_closes_when_the_member_is_deactivated(console, quick_ticks):
    agent = console.member("Ana", "agent")
    with console.client.websocket_connect("/ws/agent", headers=agent.headers()) as ws:
        wait_for(ws, of_type("hello"))
        with session_scope(console.client.app.state.sessionmaker) as session:
            session.get(User, agent.id).is_active = False
        assert _closed_code(ws) == 4401


def test_an_open_agent_socket_closes_when_its_member_signs_out(console, quick_ticks):
    agent = console.member("Ana", "agent")
    with console.client.websocket_connect("/ws/agent", headers=agent.headers()) as ws:
        wait_for(ws, of_type("hello"))
        signed_out = console.send(agent, "POST", "/logout", follow_redirects=False)
        assert signed_out.status_code == 303
        assert _closed_code(ws) == 4401


def test_an_open_agent_socket_closes_when_its_session_expires(console, quick_ticks):
    agent = console.member("Ana", "agent")
    # Signed in a minute short of twelve hours ago: valid at the handshake...
    issued = int(console.clock.now) - SESSION_MAX_AGE_S + 60
    old = console.signed_in(agent.id, "Ana", StaffSession(sid="s1", uid=agent.id, iat=issued))
    with console.client.websocket_connect("/ws/agent", headers=old.headers()) as ws:
        assert wait_for(ws, of_type("hello"))["agent_id"] == agent.agent_id
        console.clock.now += 61  # ...and expired a minute later, at the socket's next check
        assert _closed_code(ws) == 4401
    assert console.get(agent, "/api/agent/queue").status_code == 200  # a fresh sign-in works


def test_the_agent_socket_answers_hostile_frames_with_an_error_and_stays_open(console):
    agent = console.member("Ana", "agent")
    deep = "[" * 10_000 + "]" * 10_000
    frames = [
        deep,  # used to drop the socket with 1006
        '{"type": "watch", "conversation_id": ' + deep + "}",
        "not json",
        "[1, 2]",
        json.dumps({"type": {"nested": "object"}}),
        json.dumps({"type": ["watch"]}),
        json.dumps({"type": "ping", "pad": "x" * console_ws.MAX_FRAME_CHARS}),
        json.dumps({"type": "typing", "conversation_id": "\ud800", "on": True}),
    ]
    with console.client.websocket_connect("/ws/agent", headers=agent.headers()) as ws:
        wait_for(ws, of_type("hello"))
        for frame in frames:
            ws.send_text(frame)
            assert wait_for(ws, of_type("error"))["message"], frame[:40]
        ws.send_bytes(b'{"type": "ping"}')
        assert wait_for(ws, of_type("error"))["message"] == "The frame must be text."
        ws.send_json({"type": "ping"})
        wait_for(ws, of_type("pong"))
