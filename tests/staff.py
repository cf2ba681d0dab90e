"""A signed-in staff member for tests that are not about signing in (conftest fixtures stay
free of it): the headers a browser of theirs would send to the app under test."""

from __future__ import annotations

from fastapi import FastAPI

from bot.db import session_scope
from bot.staff.auth import SESSION_COOKIE, SESSION_MAX_AGE_S, csrf_token, new_session, sign_session
from bot.staff.users import create_user, open_sign_in

ORIGIN = "http://testserver"


def signed_in_headers(
    app: FastAPI, *roles: str, email: str = "root@example.com", origin: str = ORIGIN
) -> dict[str, str]:
    """Create a member with ``roles``, sign them in on the app's clock, and return the cookie,
    Origin and CSRF headers of their browser on ``origin``."""
    settings = app.state.settings
    with session_scope(app.state.sessionmaker) as db:
        user_id = create_user(
            session=db, email=email, name="Root", password="a long password", roles=roles
        ).id
    session = new_session(user_id, now=app.state.clock())
    with session_scope(app.state.sessionmaker) as db:
        open_sign_in(session=db, sid=session.sid, user_id=user_id, max_age_s=SESSION_MAX_AGE_S)
    return {
        "cookie": f"{SESSION_COOKIE}={sign_session(settings, session)}",
        "origin": origin,
        "x-csrf-token": csrf_token(settings, session.sid),
    }
