"""A real SQLite file in tmp_path with handoff's own tables, for the handoff tests. The
engine is built here: handoff (and its tests) never import bot."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from handoff.alerts import track_alert
from handoff.models import Base, SupervisorAlert
from handoff.presence import active_load, set_presence
from handoff.queue import claim, get_ticket, open_handoff
from handoff.routing import auto_assign
from handoff.states import State

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _wal(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@contextmanager
def temp_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'handoff.db'}",
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    event.listen(engine, "connect", _wal)
    Base.metadata.create_all(engine)
    try:
        yield sessionmaker(engine, expire_on_commit=False)
    finally:
        engine.dispose()


def _queue(session: Session, count: int) -> None:
    """Conversations c0, c1, ... ask for a person."""
    for n in range(count):
        open_handoff(
            session=session,
            conversation_id=f"c{n}",
            reason="requested",
            priority=50,
            packet={"goal": "help"},
            now=T0,
        )


def _at_once(
    sessions: sessionmaker[Session], work: Callable[[Session, int], None], count: int
) -> None:
    """Run ``work(session, n)`` for n in range(count), each in a thread with a session of its
    own, released at the same instant, as ``count`` server processes would; every error is
    raised here."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        with sessions() as own:
            barrier.wait()
            try:
                work(own, n)
            except BaseException as error:  # noqa: BLE001  (reported by the assert below)
                failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def assert_one_claim_wins(sessions: sessionmaker[Session], claimers: int = 8) -> None:
    """Agents claim one queued conversation at the same instant, each in its own session:
    exactly one wins, and the ticket is theirs."""
    with sessions() as setup:
        _queue(setup, 1)
    results: dict[str, bool] = {}

    def attempt(own: Session, n: int) -> None:
        agent_id = f"agent{n}"
        results[agent_id] = claim(session=own, conversation_id="c0", agent_id=agent_id, now=T0)

    _at_once(sessions, attempt, claimers)
    winners = [agent for agent, won in results.items() if won]
    assert len(results) == claimers and len(winners) == 1
    with sessions() as check:
        ticket = get_ticket(session=check, conversation_id="c0")
        assert (ticket.state, ticket.agent_id) == (State.agent, winners[0])


def assert_one_alert_opens(sessions: sessionmaker[Session], processes: int = 8) -> None:
    """The queue passes the alert length and every process sees it at the same instant, each
    in its own session: one alert opens, not one per process; it closes once."""
    with sessions() as setup:
        _queue(setup, 3)
    _at_once(sessions, lambda own, _n: track_alert(session=own, now=T0, alert_length=2), processes)
    with sessions() as check:
        alerts = list(check.scalars(select(SupervisorAlert)))
        assert [(a.peak, a.ended_at) for a in alerts] == [(3, None)]
        claim(session=check, conversation_id="c0", agent_id="a1", now=T0)
        track_alert(session=check, now=T0, alert_length=2)
        track_alert(session=check, now=T0, alert_length=2)
        alerts = list(check.scalars(select(SupervisorAlert)))
        assert [(a.peak, a.ended_at, a.open_slot) for a in alerts] == [(3, T0, None)]


def assert_each_slot_filled_once(sessions: sessionmaker[Session], processes: int = 8) -> None:
    """Conversations join the queue on different processes at the same instant, and each
    process auto-assigns its own, in its own session, to three online agents with one free
    slot each: three are assigned, and no agent goes past their capacity."""
    with sessions() as setup:
        _queue(setup, processes)
        for agent_id in ("ann", "bob", "cat"):
            set_presence(session=setup, agent_id=agent_id, presence="online", now=T0, capacity=1)
    assigned: list[tuple[str, str]] = []

    def assign(own: Session, n: int) -> None:
        agent_id = auto_assign(session=own, conversation_id=f"c{n}", now=T0)
        if agent_id is not None:
            assigned.append((f"c{n}", agent_id))

    _at_once(sessions, assign, processes)
    conversations = [conversation_id for conversation_id, _ in assigned]
    assert len(conversations) == len(set(conversations)) == 3
    with sessions() as check:
        assert active_load(session=check) == {"ann": 1, "bob": 1, "cat": 1}
