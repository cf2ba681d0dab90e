"""Database engine and sessions (SQLAlchemy 2): SQLite in the data folder by default."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pool_pre_ping: a restarted PostgreSQL costs one reconnect, not a failed request.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers and one writer work at once; busy_timeout makes writers wait, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


Now = Callable[[], datetime]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def make_sessionmaker(engine: Engine, *, now: Now = _wall_clock) -> sessionmaker[Session]:
    """Sessions that carry the app's clock (``session_now``), so that what they write is
    stamped by it: a test moves the clock instead of waiting or backdating rows."""
    return sessionmaker(engine, expire_on_commit=False, info={"now": now})


def clock_of(factory: sessionmaker[Session]) -> Now:
    """The clock that ``factory``'s sessions carry."""
    return factory.kw.get("info", {}).get("now", _wall_clock)


def session_now(session: Session) -> datetime:
    """Now (aware, UTC) by the clock of the factory that made ``session``."""
    return session.info.get("now", _wall_clock)()


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
