"""Two server processes on PostgreSQL, Redis and a Chroma server (tests/topology.py): a
customer and an agent on different processes see each other live."""

from __future__ import annotations

from tests.topology import (
    console,
    delete,
    eventually,
    of_type,
    post,
    put,
    start_conversation,
    wait_for,
    widget,
)


def test_customer_on_a_and_agent_on_b_claim_reply_typing_and_return_to_bot(scale):
    """The customer, on A, asks for a person and hears their place; Ana's console, on B, sees
    the handoff, claims it, and they type and talk to each other live; Ana gives the
    conversation back to the bot, and the bot, on A, answers again."""
    ana = scale.staff("Ana", "agent")
    conversation_id, token = start_conversation(scale.a)
    base = f"/api/agent/conversations/{conversation_id}"
    with console(scale.b, ana) as agent, widget(scale.a, token) as customer:
        wait_for(agent, of_type("queue"))
        wait_for(customer, of_type("state"))
        customer.send('{"type": "handoff_request"}')
        wait_for(customer, of_type("state", state="queued"))
        wait_for(agent, of_type("queued", conversation_id=conversation_id))
        assert post(scale.b, f"{base}/claim", ana).status_code == 200
        assert wait_for(customer, of_type("state", state="agent"))["agent"] == "Ana"


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
