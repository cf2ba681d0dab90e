"""A signed-in staff member for tests that are not about signing in (conftest fixtures stay
free of it): the headers a browser of theirs would send to the app under test."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import session_scope
from bot.staff.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, csrf_token, new_session, sign_session
from bot.staff.users import create_user, open_sign_in

ORIGIN = "http://testserver"


def signed_in_headers(
    app: FastAPI, *roles: str, email: str = "root@example.com", origin: str = ORIGIN
) -> dict[str, str]:
    """Create a member with ``roles``, sign them in on the app's clock, and return the cookie,
    Origin and CSRF headers of their browser on ``origin``."""
    state = app.state
    headers = sign_in_member(
        state.sessionmaker, state.settings, *roles, email=email, name="Root", now=state.clock()
    )
    return headers | {"origin": origin}


def sign_in_member(
    sessions: sessionmaker[Session],
    settings: Settings,
    *roles: str,
    email: str,
    name: str,
    now: float | None = None,
) -> dict[str, str]:
    """Create a member with ``roles`` in the database, open a sign-in for them at ``now``
    (None: the real clock), and return the cookie and CSRF headers their browser sends to a
    server with ``settings``."""
    with session_scope(sessions) as db:
        user_id = create_user(
            session=db, email=email, name=name, password="a long password", roles=roles
        ).id
    session = new_session(user_id, now=now)
    with session_scope(sessions) as db:
        open_sign_in(session=db, sid=session.sid, user_id=user_id, max_age_s=SESSION_MAX_AGE_S)
    return {
        "cookie": f"{SESSION_COOKIE}={sign_session(settings, session)}",
        "x-csrf-token": csrf_token(settings, session.sid),
    }
