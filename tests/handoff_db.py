"""A real SQLite file in tmp_path with handoff's own tables, for the handoff tests. The
engine is built here: handoff (and its tests) never import bot."""

import threading
from collections.abc import Iterator
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


def assert_one_claim_wins(sessions: sessionmaker[Session], claimers: int = 8) -> None:
    """Agents claim one queued conversation at the same instant, each in its own session:
    exactly one wins, and the ticket is theirs."""
    with sessions() as setup:
        open_handoff(
            session=setup,
            conversation_id="c1",
            reason="requested",
            priority=50,
            packet={"goal": "help"},
            now=T0,
        )
    barrier = threading.Barrier(claimers)
    results: dict[str, bool] = {}

    def attempt(agent_id: str) -> None:
        with sessions() as own:
            barrier.wait()
            results[agent_id] = claim(session=own, conversation_id="c1", agent_id=agent_id, now=T0)

    threads = [threading.Thread(target=attempt, args=(f"agent{i}",)) for i in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [agent for agent, won in results.items() if won]
    assert len(results) == claimers and len(winners) == 1
    with sessions() as check:
        ticket = get_ticket(session=check, conversation_id="c1")
        assert (ticket.state, ticket.agent_id) == (State.agent, winners[0])


def assert_one_alert_opens(sessions: sessionmaker[Session], processes: int = 8) -> None:
    """The queue passes the alert length and every process sees it at the same instant, each
    in its own session: one alert opens, not one per process; it closes once."""
    with sessions() as setup:
        for n in range(3):
            open_handoff(
                session=setup,
                conversation_id=f"c{n}",
                reason="requested",
                priority=50,
                packet={},
                now=T0,
            )
    barrier = threading.Barrier(processes)
    failures: list[BaseException] = []

    def track() -> None:
        with sessions() as own:
            barrier.wait()
            try:
                track_alert(session=own, now=T0, alert_length=2)
            except BaseException as error:  # noqa: BLE001  (reported by the assert below)
                failures.append(error)

    threads = [threading.Thread(target=track) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
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
        for n in range(processes):
            open_handoff(
                session=setup,
                conversation_id=f"c{n}",
                reason="requested",
                priority=50,
                packet={},
                now=T0,
            )
        for agent_id in ("ann", "bob", "cat"):
            set_presence(session=setup, agent_id=agent_id, presence="online", now=T0, capacity=1)
    barrier = threading.Barrier(processes)
    assigned: list[tuple[str, str]] = []
    failures: list[BaseException] = []

    def assign(conversation_id: str) -> None:
        with sessions() as own:
            barrier.wait()
            try:
                agent_id = auto_assign(session=own, conversation_id=conversation_id, now=T0)
                if agent_id is not None:
                    assigned.append((conversation_id, agent_id))
            except BaseException as error:  # noqa: BLE001  (reported by the assert below)
                failures.append(error)

    threads = [threading.Thread(target=assign, args=(f"c{n}",)) for n in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    conversations = [conversation_id for conversation_id, _ in assigned]
    assert len(conversations) == len(set(conversations)) == 3
    with sessions() as check:
        assert active_load(session=check) == {"ann": 1, "bob": 1, "cat": 1}
