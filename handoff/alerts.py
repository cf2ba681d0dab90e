"""The history of supervisor alerts: when the queue grew past the alert length, and for how long.

The console's sockets tell supervisors live; this keeps the record. It is updated wherever the
queue moves (``ConsoleServices``), by whichever process moved it. The open alert is one row,
held unique by the database, so two processes opening it at once leave one alert, and the
record does not depend on a supervisor being connected.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.models import SupervisorAlert, Ticket
from handoff.states import State


def track_alert(*, session: Session, now: datetime, alert_length: int) -> None:
    """Open an alert when the queue is longer than ``alert_length``, keep its peak up to date
    while it lasts, and close it when the queue is back within the limit."""
    try:
        _track(session=session, now=now, alert_length=alert_length)
    except IntegrityError:
        # Another process opened the alert between our read and our write: keep theirs.
        session.rollback()
        _track(session=session, now=now, alert_length=alert_length)


def _track(*, session: Session, now: datetime, alert_length: int) -> None:
    length = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.state == State.queued)
    )
    length = int(length or 0)
    current = session.scalar(select(SupervisorAlert).where(SupervisorAlert.open_slot == 1))
    if length > alert_length:
        if current is None:
            session.add(
                SupervisorAlert(started_at=now, peak=length, alert_length=alert_length, open_slot=1)
            )
        else:
            current.peak = max(current.peak, length)
    elif current is not None:
        current.ended_at, current.open_slot = now, None
    session.commit()


def alert_history(*, session: Session, since: datetime, until: datetime) -> list[SupervisorAlert]:
    """The alerts that were open at some moment of [since, until), newest first."""
    query = (
        select(SupervisorAlert)
        .where(
            SupervisorAlert.started_at < until,
            (SupervisorAlert.ended_at.is_(None)) | (SupervisorAlert.ended_at >= since),
        )
        .order_by(SupervisorAlert.started_at.desc(), SupervisorAlert.id.desc())
    )
    return list(session.scalars(query))
