"""Sign-in pages: ``GET/POST /login`` and ``POST /logout``, with a lockout per email and IP."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.db import session_scope
from bot.staff.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    app_clock,
    app_services,
    check_csrf,
    clear_session_cookie,
    csrf_token,
    current_staff,
    new_session,
    read_session,
    set_session_cookie,
)
from bot.staff.users import FailedSignIn, authenticate, close_sign_in, normalize_email, open_sign_in

LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW_S = 15 * 60
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

FormField = Annotated[str, Form()]


class LoginLimiter:
    """Counts failed sign-ins per (email, IP) over a sliding window, in the database: every
    server process shares the count, and a restart keeps it."""

    def __init__(
        self,
        *,
        max_failures: int = LOCKOUT_FAILURES,
        window_s: float = LOCKOUT_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock

    def is_locked(self, session: Session, key: tuple[str, str]) -> bool:
        recent = (
            select(func.count())
            .select_from(FailedSignIn)
            .where(FailedSignIn.key == _hashed(key), FailedSignIn.at > self._horizon())
        )
        return session.scalar(recent) >= self.max_failures

    def record_failure(self, session: Session, key: tuple[str, str]) -> None:
        # Failures past the window count for nobody: dropping them keeps the table small.
        session.execute(delete(FailedSignIn).where(FailedSignIn.at <= self._horizon()))
        session.add(FailedSignIn(key=_hashed(key), at=self._clock()))

    def reset(self, session: Session, key: tuple[str, str]) -> None:
        session.execute(delete(FailedSignIn).where(FailedSignIn.key == _hashed(key)))

    def _horizon(self) -> float:
        return self._clock() - self.window_s


def _hashed(key: tuple[str, str]) -> str:
    return hashlib.sha256("\n".join(key).encode()).hexdigest()


def make_templates(*dirs: Path) -> Jinja2Templates:
    """Templates from ``dirs`` then bot's own, so other packages' pages can extend base.html."""
    env = Environment(loader=FileSystemLoader([*dirs, TEMPLATES_DIR]), autoescape=True)
    return Jinja2Templates(env=env)


def make_auth_router(
    *, templates: Jinja2Templates | None = None, limiter: LoginLimiter | None = None
) -> APIRouter:
    templates = templates or make_templates()
    limiter = limiter or LoginLimiter()
    router = APIRouter(tags=["staff sign-in"])

    def render_form(
        request: Request, *, status: int, error: str = "", email: str = "", next_: str = ""
    ) -> Response:
        settings, _ = app_services(request)
        now = app_clock(request)
        current = read_session(settings, request.cookies.get(SESSION_COOKIE), now=now)
        # A signed-out visitor gets an anonymous session, so the form has a CSRF token.
        anonymous = current is not None and current.uid is None
        session = current if anonymous else new_session(now=now)
        context = {
            "error": error,
            "email": email,
            "next": _safe_next(next_),
            CSRF_FIELD: csrf_token(settings, session.sid),
        }
        response = templates.TemplateResponse(request, "login.html", context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        if session is not current:
            set_session_cookie(response, settings, session)
        return response

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, next: str = "") -> Response:
        staff = await current_staff(request)
        if staff is not None:
            return RedirectResponse(_safe_next(next) or _home(staff.roles), status_code=303)
        return render_form(request, status=200, next_=next)

    @router.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        email: FormField = "",
        password: FormField = "",
        csrf_token: FormField = "",
        next: FormField = "",
    ) -> Response:
        settings, sessions = app_services(request)
        now = app_clock(request)
        session = read_session(settings, request.cookies.get(SESSION_COOKIE), now=now)
        if session is None or not check_csrf(settings, session, csrf_token):
            error = "This sign-in form has expired. Please try again."
            return render_form(request, status=403, error=error, email=email, next_=next)
        key = (normalize_email(email), request.client.host if request.client else "")
        # A new session id at sign-in, so a session planted before it is worth nothing.
        signed_in = new_session(now=now)
        outcome = await run_in_threadpool(_sign_in, sessions, limiter, key, password, signed_in.sid)
        if outcome == "locked":
            minutes = round(limiter.window_s / 60)
            error = f"Too many failed sign-ins. Please try again in {minutes} minutes."
            return render_form(request, status=429, error=error, email=email, next_=next)
        if outcome is None:
            error = "Wrong email or password."
            return render_form(request, status=401, error=error, email=email, next_=next)
        user_id, roles = outcome
        response = RedirectResponse(_safe_next(next) or _home(roles), status_code=303)
        set_session_cookie(response, settings, replace(signed_in, uid=user_id))
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf_token: FormField = "") -> Response:
        settings, sessions = app_services(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        session = read_session(settings, cookie, now=app_clock(request))
        submitted = request.headers.get("X-CSRF-Token") or csrf_token
        if session is not None and session.uid is not None:
            if not check_csrf(settings, session, submitted):
                return Response("CSRF token missing or wrong", status_code=403)
            await run_in_threadpool(_sign_out, sessions, session.sid)
        response = RedirectResponse("/login", status_code=303)
        clear_session_cookie(response, settings)
        return response

    return router


def _sign_in(
    sessions: sessionmaker[Session],
    limiter: LoginLimiter,
    key: tuple[str, str],
    password: str,
    sid: str,
) -> tuple[int, frozenset[str]] | Literal["locked"] | None:
    """Unless ``key`` (email, address) is locked out, check the password and, when it is
    right, open the sign-in ``sid``; a wrong one counts towards the lockout."""
    with session_scope(sessions) as session:
        if limiter.is_locked(session, key):
            return "locked"
        user = authenticate(session=session, email=key[0], password=password)
        if user is None:
            limiter.record_failure(session, key)
            return None
        limiter.reset(session, key)
        open_sign_in(session=session, sid=sid, user_id=user.id, max_age_s=SESSION_MAX_AGE_S)
        return user.id, user.role_set


def _sign_out(sessions: sessionmaker[Session], sid: str) -> None:
    with session_scope(sessions) as session:
        close_sign_in(session=session, sid=sid)


def _safe_next(target: str) -> str:
    """``target`` if it is a path on this site, else "" (no open redirect to another host)."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return ""
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return ""
    return target


def _home(roles: frozenset[str]) -> str:
    return "/kb" if roles == {"editor"} else "/agent"
