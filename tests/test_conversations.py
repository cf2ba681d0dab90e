from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select

from bot.chat import conversations as crud
from bot.chat.models import Feedback, Message
from bot.db import make_engine, make_sessionmaker
from bot.migrations import upgrade_database

XSS = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))"]


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'chat.db'}")
    upgrade_database(engine)  # the real migrations, not create_all
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def conversation_id(sessions):
    with sessions() as session:
        return crud.create_conversation(session=session).id


def test_migrations_create_every_table(sessions):
    tables = set(inspect(sessions.kw["bind"]).get_table_names())
    assert {"conversations", "messages", "feedback", "ratings", "users"} <= tables
    assert "handoff_tickets" in tables


def test_messages_get_consecutive_numbers_per_conversation(sessions, conversation_id):
    with sessions() as session:
        other = crud.create_conversation(session=session).id
        seqs = [
            crud.add_message(session=session, conversation_id=cid, role=role, text="t").message.seq
            for cid, role in [
                (conversation_id, "customer"),
                (other, "customer"),
                (conversation_id, "bot"),
                (conversation_id, "agent"),
            ]
        ]
    assert seqs == [1, 1, 2, 3]


def test_a_resent_client_id_returns_the_stored_message(sessions, conversation_id):
    with sessions() as session:
        first = crud.add_message(
            session=session,
            conversation_id=conversation_id,
            role="customer",
            text="hi",
            client_id="c-1",
        )
        again = crud.add_message(
            session=session,
            conversation_id=conversation_id,
            role="customer",
            text="hi",
            client_id="c-1",
        )
        count = session.scalar(select(func.count()).select_from(Message))
    assert first.created and not again.created
    assert again.message.seq == first.message.seq == 1
    assert count == 1


def test_the_same_client_id_in_another_conversation_is_another_message(sessions, conversation_id):
    with sessions() as session:
        other = crud.create_conversation(session=session).id
        a = crud.add_message(
            session=session,
            conversation_id=conversation_id,
            role="customer",
            text="x",
            client_id="same",
        )
        b = crud.add_message(
            session=session, conversation_id=other, role="customer", text="x", client_id="same"
        )
    assert a.created and b.created


def test_concurrent_writers_never_share_a_number(sessions, conversation_id):
    def write(n: int) -> int:
        with sessions() as session:
            return crud.add_message(
                session=session,
                conversation_id=conversation_id,
                role="customer",
                text=f"m{n}",
                client_id=f"c{n}",
            ).message.seq

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = list(pool.map(write, range(80)))
    assert sorted(seqs) == list(range(1, 81))


def test_a_client_id_resent_concurrently_is_stored_once(sessions, conversation_id):
    def send(_: int) -> tuple[int, bool]:
        with sessions() as session:
            stored = crud.add_message(
                session=session,
                conversation_id=conversation_id,
                role="customer",
                text="once",
                client_id="dup",
            )
            return stored.message.seq, stored.created

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(16)))
    assert {seq for seq, _ in results} == {1}
    assert sum(created for _, created in results) == 1
    with sessions() as session:
        assert len(crud.messages_after(session=session, conversation_id=conversation_id)) == 1


def test_messages_after_and_the_transcript(sessions, conversation_id):
    with sessions() as session:
        for role, text in [("customer", "q1"), ("bot", "a1"), ("customer", "q2"), ("bot", "a2")]:
            crud.add_message(session=session, conversation_id=conversation_id, role=role, text=text)
        after = crud.messages_after(session=session, conversation_id=conversation_id, after=2)
        assert [(m.seq, m.text) for m in after] == [(3, "q2"), (4, "a2")]
        assert crud.transcript(session=session, conversation_id=conversation_id) == [
            ("customer", "q1"),
            ("bot", "a1"),
            ("customer", "q2"),
            ("bot", "a2"),
        ]
        assert crud.transcript(session=session, conversation_id=conversation_id, last=2) == [
            ("customer", "q2"),
            ("bot", "a2"),
        ]


def test_bot_messages_keep_citations_confidence_and_signals(sessions, conversation_id):
    citation = {"n": 1, "doc_id": "billing-refunds", "title": "Refunds", "url": "", "version": 3}
    with sessions() as session:
        crud.add_message(
            session=session,
            conversation_id=conversation_id,
            role="bot",
            text="See [1].",
            citations=[citation],
            confidence=0.82,
            signals={"top_score": 0.7},
            decision="answer",
        )
    with sessions() as session:
        (stored,) = crud.messages_after(session=session, conversation_id=conversation_id)
    assert stored.citations == [citation]
    assert (stored.confidence, stored.signals, stored.decision) == (
        0.82,
        {"top_score": 0.7},
        "answer",
    )


@pytest.mark.parametrize("payload", XSS)
def test_markup_is_stored_verbatim(sessions, conversation_id, payload):
    with sessions() as session:
        crud.add_message(
            session=session, conversation_id=conversation_id, role="customer", text=payload
        )
    with sessions() as session:
        (stored,) = crud.messages_after(session=session, conversation_id=conversation_id)
    assert stored.text == payload


def test_unknown_roles_and_conversations_are_refused(sessions, conversation_id):
    with sessions() as session:
        with pytest.raises(ValueError):
            crud.add_message(
                session=session, conversation_id=conversation_id, role="admin", text="x"
            )
        with pytest.raises(crud.ConversationNotFound):
            crud.add_message(session=session, conversation_id="nope", role="customer", text="x")


def test_feedback_is_on_bot_messages_and_the_last_vote_counts(sessions, conversation_id):
    with sessions() as session:
        crud.add_message(
            session=session, conversation_id=conversation_id, role="customer", text="q"
        )
        crud.add_message(session=session, conversation_id=conversation_id, role="bot", text="a")
        with pytest.raises(LookupError):
            crud.record_feedback(
                session=session, conversation_id=conversation_id, seq=1, value="up"
            )
        with pytest.raises(ValueError):
            crud.record_feedback(
                session=session, conversation_id=conversation_id, seq=2, value="meh"
            )
        crud.record_feedback(session=session, conversation_id=conversation_id, seq=2, value="up")
        crud.record_feedback(session=session, conversation_id=conversation_id, seq=2, value="down")
        votes = session.execute(select(Feedback.seq, Feedback.value)).all()
    assert votes == [(2, "down")]


def test_one_rating_per_conversation(sessions, conversation_id):
    with sessions() as session:
        crud.record_rating(session=session, conversation_id=conversation_id, value=2)
        rating = crud.record_rating(
            session=session, conversation_id=conversation_id, value=5, comment="solved"
        )
        assert (rating.value, rating.comment) == (5, "solved")
        for bad in (0, 6):
            with pytest.raises(ValueError):
                crud.record_rating(session=session, conversation_id=conversation_id, value=bad)
        with pytest.raises(crud.ConversationNotFound):
            crud.record_rating(session=session, conversation_id="nope", value=3)


def test_contact_and_language(sessions):
    with sessions() as session:
        conversation = crud.create_conversation(session=session, lang="zh")
        crud.set_contact(session=session, conversation_id=conversation.id, email="a@b.example")
    with sessions() as session:
        stored = crud.get_conversation(session=session, conversation_id=conversation.id)
        assert (stored.lang, stored.contact_email) == ("zh", "a@b.example")
