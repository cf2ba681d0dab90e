"""Two server processes on PostgreSQL, Redis and a Chroma server (tests/topology.py): a
customer and an agent on different processes see each other live."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta

import httpx
import pytest
import redis
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from bot.db import session_scope
from bot.sockets import CLOSE_TOO_MANY, REASON
from bot.staff.routes import LOCKOUT_FAILURES
from handoff.models import SupervisorAlert, Ticket
from tests.smtp_capture import text_of
from tests.topology import (
    console,
    delete,
    drain_queue,
    events_until,
    eventually,
    of_type,
    post,
    post_handoff,
    put,
    request,
    sign_in,
    start_conversation,
    wait_for,
    widget,
)
from tests.widget_app import ANSWERABLE


def test_customer_on_a_and_agent_on_b_claim_reply_typing_transfer_and_return_to_bot(scale):
    """The customer, on A, asks for a person and hears their place; Ana's console, on B, sees
    the handoff and claims it; they see each other type and read each other's messages live.
    Ana transfers the conversation to Ben (console on A): the customer hears Ben joined. Ben
    gives it back to the bot, and the bot answers the customer again."""
    ana, ben = scale.staff("Ana", "agent"), scale.staff("Ben", "agent")
    conversation_id, token = start_conversation(scale.a)
    base = f"/api/agent/conversations/{conversation_id}"
    with (
        console(scale.b, ana) as ana_ws,
        console(scale.a, ben) as ben_ws,
        widget(scale.a, token) as customer,
    ):
        ana_id = wait_for(ana_ws, of_type("hello"))["agent_id"]
        ben_id = wait_for(ben_ws, of_type("hello"))["agent_id"]
        wait_for(customer, of_type("state"))
        customer.send('{"type": "handoff_request"}')
        wait_for(customer, of_type("state", state="queued"))
        wait_for(ana_ws, of_type("queued", conversation_id=conversation_id))
        assert post(scale.b, f"{base}/claim", ana).status_code == 200
        assert wait_for(customer, of_type("state", state="agent"))["agent"] == "Ana"

        ana_ws.send(json.dumps({"type": "watch", "conversation_id": conversation_id}))
        wait_for(ana_ws, of_type("watching"))
        customer.send('{"type": "typing"}')
        wait_for(ana_ws, of_type("typing", conversation_id=conversation_id))
        customer.send(json.dumps({"type": "message", "client_id": "m1", "text": "still there?"}))
        seen = wait_for(ana_ws, of_type("message", conversation_id=conversation_id))
        assert seen["message"]["text"] == "still there?"
        typing = {"type": "typing", "conversation_id": conversation_id, "on": True}
        ana_ws.send(json.dumps(typing))
        assert wait_for(customer, of_type("typing", role="agent"))["author"] == "Ana"
        assert post(scale.b, f"{base}/messages", ana, json={"text": "Yes."}).status_code == 201
        assert wait_for(customer, of_type("message", role="agent"))["text"] == "Yes."

        moved = post(scale.b, f"{base}/transfer", ana, json={"to_agent_id": ben_id})
        assert moved.status_code == 200, moved.text
        assert wait_for(customer, of_type("state", state="agent"))["agent"] == "Ben"
        wait_for(ben_ws, of_type("transferred", to_agent_id=ben_id))
        assert post(scale.a, f"{base}/return", ben).status_code == 200
        wait_for(customer, of_type("state", state="bot"))
        customer.send(json.dumps({"type": "message", "client_id": "m2", "text": ANSWERABLE}))
        assert wait_for(customer, of_type("message", role="bot"))["citations"]
    assert ana_id != ben_id


def _queued(*, eta: bool):
    """A customer's queue state, with an expected wait or (nobody online) without one."""
    return lambda e: of_type("state", state="queued")(e) and ("eta_s" in e) == eta


def test_queue_places_waits_and_presence_agree_on_both_processes(scale):
    """Two customers wait, one on A and one on B; each hears the same place and wait on
    either process. Cleo, online on A, goes away through B: customers on both processes lose
    their expected wait (nobody online to give one); back online, their waits return."""
    drain_queue(scale)
    cleo = scale.staff("Cleo", "agent")
    first, second = start_conversation(scale.a), start_conversation(scale.b)
    with (
        console(scale.a, cleo) as cleo_ws,
        widget(scale.a, first[1]) as one,
        widget(scale.b, second[1]) as two,
        widget(scale.a, second[1]) as two_on_a,
    ):
        wait_for(cleo_ws, of_type("hello"))
        for ws in (one, two, two_on_a):
            wait_for(ws, of_type("state"))
        one.send('{"type": "handoff_request"}')
        assert wait_for(one, of_type("state", state="queued"))["position"] == 1
        two.send('{"type": "handoff_request"}')
        on_b = wait_for(two, of_type("state", state="queued"))
        on_a = wait_for(two_on_a, of_type("state", state="queued"))
        # Cleo is online with free capacity, so the expected wait may well be 0 s: present.
        assert on_b == on_a and on_b["position"] == 2 and "eta_s" in on_b

        away = {"presence": "away"}
        assert request(scale.b, "PUT", "/api/agent/presence", cleo, json=away).status_code == 200
        wait_for(one, _queued(eta=False))
        wait_for(two_on_a, _queued(eta=False))
        back = {"presence": "online"}
        assert request(scale.b, "PUT", "/api/agent/presence", cleo, json=back).status_code == 200
        wait_for(two, _queued(eta=True))
    drain_queue(scale)


def test_supervisors_get_one_alert_per_breach_whichever_process(scale):
    """Two supervisors, one on each process, watch four customers from both processes join
    the queue; it passes its alert length (2) with the third. Each console shows the alert
    once, not once per process."""
    drain_queue(scale)
    alerts_before = _alerts(scale)
    dana, emil = scale.staff("Dana", "agent", "admin"), scale.staff("Emil", "agent", "admin")
    with console(scale.a, dana) as dana_ws, console(scale.b, emil) as emil_ws:
        for ws in (dana_ws, emil_ws):
            assert wait_for(ws, of_type("queue"))["alert"] is False
        for server in (scale.a, scale.b, scale.a, scale.b):
            post_handoff(server, *start_conversation(server))
        for ws in (dana_ws, emil_ws):
            # One coroutine sends a snapshot and then its alert: all is in by the fourth's.
            events = events_until(ws, lambda e: e.get("type") == "queue" and len(e["items"]) == 4)
            assert [e["type"] for e in events].count("alert") == 1
    # Both processes moved the queue past the limit: the history holds one alert.
    assert _alerts(scale) == alerts_before + 1
    drain_queue(scale)


def _alerts(scale) -> int:
    with session_scope(scale.sessions) as db:
        return db.scalar(select(func.count()).select_from(SupervisorAlert))


def test_an_sla_breach_shows_once_on_each_console_whichever_process(scale):
    """A customer on B has waited past the SLA target (the topology's hour: the test moves
    the time they joined the queue back in the shared database rather than wait). Agents on
    A and on B each see it highlighted in their queue, with one notice, at their console's
    next check; a later change of the queue does not repeat the notice."""
    drain_queue(scale)
    fay, gus = scale.staff("Fay", "agent"), scale.staff("Gus", "agent")
    waiting, token = start_conversation(scale.b)
    post_handoff(scale.b, waiting, token)
    with console(scale.a, fay) as on_a, console(scale.b, gus) as on_b:
        for ws in (on_a, on_b):
            snapshot = wait_for(ws, of_type("queue"))
            assert [i["sla_breached"] for i in snapshot["items"]] == [False]
        with session_scope(scale.sessions) as db:
            ticket = db.scalar(select(Ticket).where(Ticket.conversation_id == waiting))
            ticket.queued_at -= timedelta(hours=2)
        for ws in (on_a, on_b):
            events = events_until(ws, of_type("sla_breach", conversation_id=waiting))
            snapshot = [e for e in events if e["type"] == "queue"][-1]
            assert [i["sla_breached"] for i in snapshot["items"]] == [True]
        post_handoff(scale.a, *start_conversation(scale.a))
        for ws in (on_a, on_b):
            events = events_until(ws, lambda e: e["type"] == "queue" and len(e["items"]) == 2)
            assert "sla_breach" not in [e["type"] for e in events]
    drain_queue(scale)


def test_rate_limits_and_the_sign_in_lockout_count_across_processes(scale):
    """A conversation may send 6 messages a minute (the topology's limit): three through A
    and three through B use it up, and the seventh is refused on either. Ten wrong passwords
    spread over A and B lock the account on both, the right password included."""
    conversation_id, token = start_conversation(scale.a)
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/conversations/{conversation_id}/messages"

    def send(server, client_id: str) -> int:
        message = {"client_id": client_id, "text": "hi"}
        return httpx.post(server.url + path, json=message, headers=auth, timeout=60).status_code

    assert [send(server, f"m{n}") for n, server in enumerate([scale.a, scale.b] * 3)] == [201] * 6
    assert [send(server, "x") for server in (scale.a, scale.b)] == [429, 429]

    scale.staff("Finn", "agent")
    for n in range(LOCKOUT_FAILURES):
        assert sign_in(scale.a if n % 2 else scale.b, "finn@example.com", "wrong") == 401
    assert sign_in(scale.a, "finn@example.com", "a long password") == 429
    assert sign_in(scale.b, "finn@example.com", "a long password") == 429


def _found_on(server, staff, question: str, doc_id: str) -> dict | None:
    """The hit for ``doc_id`` when ``server`` is asked ``question``, if it is among them."""
    report = post(server, "/api/kb/test", staff, json={"question": question}).raise_for_status()
    return next((h for h in report.json()["hits"] if h["doc_id"] == doc_id), None)


def _searchable(hit: dict | None, version: int) -> bool:
    """Found at ``version`` by both retrievers: B's BM25 table and the shared Chroma."""
    return bool(hit and hit["version"] == version and hit["dense_rank"] and hit["bm25_rank"])


def test_a_kb_edit_saved_on_a_is_answered_on_b_within_two_seconds(scale):
    """An editor saves a new article through A; a customer asking B is answered from it
    within 2 s, found by meaning (dense) and by its words (BM25). The editor's later edit,
    deletion and restore reach B as quickly."""
    eve = scale.staff("Eve", "editor")
    doc_id = "zorblax-returns"
    question = "How do I send back a zorblax?"
    article = {
        "doc_id": doc_id,
        "title": "Returning a zorblax",
        "body": "To return a zorblax, pack the zorblax in its box and drop it at any depot.",
    }
    saved = post(scale.a, "/api/kb/documents", eve, json=article)
    assert saved.status_code == 201, saved.text
    eventually(
        lambda: _searchable(_found_on(scale.b, eve, question, doc_id), 1),
        seconds=2,
        what="the new article on B",
    )

    edit = {"title": article["title"], "body": article["body"] + " Refunds take 3 days."}
    assert put(scale.a, f"/api/kb/documents/{doc_id}", eve, json=edit).status_code == 200
    eventually(
        lambda: _searchable(_found_on(scale.b, eve, question, doc_id), 2),
        seconds=2,
        what="the edited article on B",
    )

    assert delete(scale.a, f"/api/kb/documents/{doc_id}", eve).status_code == 200
    eventually(
        lambda: _found_on(scale.b, eve, question, doc_id) is None,
        seconds=2,
        what="the deleted article gone from B",
    )

    assert post(scale.a, f"/api/kb/documents/{doc_id}/restore", eve).status_code == 200
    eventually(
        lambda: _searchable(_found_on(scale.b, eve, question, doc_id), 2),
        seconds=2,
        what="the restored article on B",
    )


def test_an_agent_stays_online_while_any_of_their_consoles_is_open(scale):
    """Gina has the console open in two tabs, one served by A and one by B. Closing the tab on
    A leaves her online; closing the last one, on B, takes her offline: her colleague Hank sees
    her go offline once, not once per process."""
    gina, hank = scale.staff("Gina", "agent"), scale.staff("Hank", "agent")
    with console(scale.a, hank) as watcher:
        hank_id = wait_for(watcher, of_type("hello"))["agent_id"]
        with console(scale.b, gina) as on_b:
            gina_id = wait_for(on_b, of_type("hello"))["agent_id"]
            with console(scale.a, gina) as on_a:
                wait_for(on_a, of_type("hello"))
        offline = of_type("presence", agent_id=gina_id, presence="offline")
        events = events_until(watcher, offline)
        # A marker published after both closes were handled: every event about them is in.
        away = {"presence": "away"}
        assert request(scale.a, "PUT", "/api/agent/presence", hank, json=away).status_code == 200
        events += events_until(watcher, of_type("presence", agent_id=hank_id, presence="away"))
    gina_events = [e for e in events if e.get("type") == "presence" and e["agent_id"] == gina_id]
    assert [e["presence"] for e in gina_events].count("offline") == 1


def test_an_agents_reply_is_emailed_only_when_no_widget_is_open_on_any_process(scale):
    """Wanda left her email address and has the widget open on A; Iris answers from B, which
    holds no socket of hers. Wanda reads the reply live, so it is not emailed. Once she has
    closed the widget, Iris's next reply reaches her by email, once."""
    drain_queue(scale)
    iris = scale.staff("Iris", "agent")
    conversation_id, token = start_conversation(scale.a)
    base = f"/api/agent/conversations/{conversation_id}"
    with widget(scale.a, token) as customer:
        wait_for(customer, of_type("state"))
        customer.send(json.dumps({"type": "handoff_request"}))
        wait_for(customer, of_type("state", state="queued"))
        customer.send(json.dumps({"type": "contact", "email": "wanda@example.org"}))
        wait_for(customer, lambda e: e.get("role") == "system" and "wanda" in e.get("text", ""))
        post(scale.b, f"{base}/claim", iris).raise_for_status()
        post(scale.b, f"{base}/messages", iris, json={"text": "Seen live in the widget."})
        wait_for(customer, lambda e: e.get("role") == "agent")
    widgets = redis.Redis.from_url(scale.redis.url)
    try:
        eventually(
            lambda: widgets.zcard(f"allhours:widgets:{conversation_id}") == 0,
            seconds=30,
            what="A has counted the closed widget out",
        )
    finally:
        widgets.close()

    post(scale.b, f"{base}/messages", iris, json={"text": "Your refund was approved."})
    scale.outbox.wait_for(lambda m: "refund was approved" in text_of(m))
    sent = [text_of(m) for m in scale.outbox.to("wanda@")]
    assert [t for t in sent if "Seen live" in t] == []  # the live reply was not emailed
    assert len([t for t in sent if "refund was approved" in t]) == 1
    post(scale.b, f"{base}/resolve", iris).raise_for_status()


def test_the_cap_on_sockets_per_address_holds_across_processes(scale):
    """One address (this test's) opens widgets on A and on B in turn. The cap (20, the
    default) counts both processes: the 21st socket is refused with 1008 on either, and
    closing one lets one more in, on the other process."""
    addresses = redis.Redis.from_url(scale.redis.url)
    key = "allhours:addresses:127.0.0.1"

    def open_now() -> int:  # entries not yet run out, on Redis's clock (as the servers count)
        seconds, micros = addresses.time()
        return addresses.zcount(key, f"({seconds + micros / 1e6}", "+inf")

    try:
        eventually(lambda: open_now() == 0, seconds=30, what="earlier tests' sockets closed")
        with ExitStack() as stack:
            servers = [scale.a, scale.b] * 10
            opened = []
            for server in servers:
                ws = stack.enter_context(widget(server, start_conversation(server)[1]))
                wait_for(ws, of_type("state"))
                opened.append(ws)
            for server in (scale.a, scale.b):
                with widget(server, start_conversation(server)[1]) as refused:
                    with pytest.raises(ConnectionClosed) as closed:
                        refused.recv(timeout=30)
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
                    CLOSE_TOO_MANY,
                    REASON,
                )
            opened[0].close()  # a widget on A goes
            eventually(lambda: open_now() == 19, seconds=30, what="A counted it out")
            with widget(scale.b, start_conversation(scale.b)[1]) as admitted:
                assert wait_for(admitted, of_type("state"))["type"] == "state"
    finally:
        addresses.close()
