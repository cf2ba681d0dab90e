"""Staff sign-in state: the signed session cookie, CSRF tokens, role checks for routes and sockets.

The session is a cookie signed with ``settings.secret_key`` (itsdangerous) that holds a random
session id, the user id (none before sign-in) and the time it was issued. Each request reloads
the user, so a deactivated user or a changed role takes effect at once. The CSRF token is an
HMAC of the session id: no server-side state, and it changes with every new session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request, Response, WebSocket
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.staff.users import ROLES, get_user, sign_in_is_open

SESSION_COOKIE = "allhours_staff"
SESSION_MAX_AGE_S = 12 * 3600  # one long shift; then sign in again
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
WS_UNAUTHENTICATED = 4401
WS_FORBIDDEN = 4403
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CLOCK_SKEW_S = 60
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class StaffSession:
    """What the cookie carries."""

    sid: str
    uid: int | None
    iat: int  # issued at, Unix seconds


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member, as routes and templates see them."""

    id: int
    name: str
    email: str
    roles: frozenset[str]
    csrf_token: str = field(repr=False)

    def has_role(self, *roles: str) -> bool:
        """True when the member has any of ``roles``; admin implies every role."""
        return "admin" in self.roles or not self.roles.isdisjoint(roles)


def new_session(user_id: int | None = None, *, now: float | None = None) -> StaffSession:
    """A new session issued ``now`` (Unix seconds; None: the real clock)."""
    iat = int(time.time() if now is None else now)
    return StaffSession(sid=secrets.token_urlsafe(18), uid=user_id, iat=iat)


def sign_session(settings: Settings, session: StaffSession) -> str:
    return _serializer(settings).dumps({"sid": session.sid, "uid": session.uid, "iat": session.iat})


def read_session(
    settings: Settings, value: str | None, *, now: float | None = None
) -> StaffSession | None:
    """The session in a cookie value, or None if it is missing, tampered with or expired
    ``now`` (Unix seconds; None: the real clock)."""
    if not value:
        return None
    try:
        data = _serializer(settings).loads(value)
        session = StaffSession(sid=str(data["sid"]), uid=data["uid"], iat=int(data["iat"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    age = (time.time() if now is None else now) - session.iat
    if not -_CLOCK_SKEW_S <= age <= SESSION_MAX_AGE_S:
        return None
    return session


def set_session_cookie(response: Response, settings: Settings, session: StaffSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sign_session(settings, session),
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.mode == "production",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.mode == "production",
    )


def csrf_token(settings: Settings, sid: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()


def check_csrf(settings: Settings, session: StaffSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(
        str(submitted), csrf_token(settings, session.sid)
    )


def app_services(conn: HTTPConnection) -> tuple[Settings, sessionmaker[Session]]:
    """What auth needs from the app, set by ``create_app``: its settings and session factory."""
    return conn.app.state.settings, conn.app.state.sessionmaker


def app_clock(conn: HTTPConnection) -> float:
    """Now, in Unix seconds, by the app's clock (``create_app(settings, clock=...)``): sessions
    are issued and expire by it, so a test can move it instead of waiting."""
    return conn.app.state.clock()


async def current_staff(conn: HTTPConnection) -> Staff | None:
    """The signed-in, active staff member of a request or socket, or None."""
    settings, sessions = app_services(conn)
    session = read_session(settings, conn.cookies.get(SESSION_COOKIE), now=app_clock(conn))
    if session is None or session.uid is None:
        return None
    user = await run_in_threadpool(_load_user, sessions, session.uid, session.sid)
    if user is None:
        return None
    user_id, name, email, roles = user
    return Staff(user_id, name, email, roles, csrf_token(settings, session.sid))


def require_roles(*roles: str) -> Callable[[Request], Awaitable[Staff]]:
    """A dependency: the current staff member holding any of ``roles`` (any member if none).

    Not signed in: 401, or for a page a browser navigates to, a redirect to
    ``/login?next=...``. Signed in without the role: 403. A state-changing request without the
    session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``): 403.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    async def staff_with_role(request: Request) -> Staff:
        staff = await current_staff(request)
        if staff is None:
            if _wants_page(request):
                raise HTTPException(303, "Sign in first", headers={"Location": login_url(request)})
            raise HTTPException(401, "Sign in first")
        if roles and not staff.has_role(*roles):
            raise HTTPException(403, "Your account does not have access to this page")
        if request.method not in _SAFE_METHODS:
            submitted = await _submitted_csrf(request)
            if not (submitted and hmac.compare_digest(submitted, staff.csrf_token)):
                raise HTTPException(403, "CSRF token missing or wrong")
        return staff

    return staff_with_role


async def websocket_staff(websocket: WebSocket, roles: Iterable[str]) -> Staff | None:
    """Accept a staff socket and return its member, or close it and return None.

    Closes with 4403 for a foreign or missing Origin (cross-site WebSocket hijacking) or a
    missing role, and with 4401 when not signed in. It accepts first so that the browser sees
    these codes; the caller must not accept again.
    """
    await websocket.accept()
    settings, _ = app_services(websocket)
    if not _same_origin(websocket, settings):
        await websocket.close(WS_FORBIDDEN, "Origin not allowed")
        return None
    staff = await current_staff(websocket)
    if staff is None:
        await websocket.close(WS_UNAUTHENTICATED, "Sign in first")
        return None
    wanted = tuple(roles)
    if wanted and not staff.has_role(*wanted):
        await websocket.close(WS_FORBIDDEN, "Missing role")
        return None
    return staff


async def staff_still_allowed(websocket: WebSocket, roles: Iterable[str]) -> bool:
    """For an open staff socket: its session has not expired and its member is still active
    and still holds one of ``roles``. A socket outlives the sign-in check of its handshake (a
    console left open for days), so it asks this again while it runs."""
    staff = await current_staff(websocket)
    wanted = tuple(roles)
    return staff is not None and (not wanted or staff.has_role(*wanted))


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": target})


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt="allhours.staff-session")


def _load_user(
    sessions: sessionmaker[Session], user_id: int, sid: str
) -> tuple[int, str, str, frozenset[str]] | None:
    """The member of an open sign-in, if they are active."""
    with sessions() as session:
        if not sign_in_is_open(session=session, sid=sid, user_id=user_id):
            return None
        user = get_user(session=session, user_id=user_id)
        if user is None or not user.is_active:
            return None
        return user.id, user.name, user.email, user.role_set


def _wants_page(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")


async def _submitted_csrf(request: Request) -> str:
    if token := request.headers.get(CSRF_HEADER):
        return token
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        # Starlette caches the parsed form, so the route can still read it.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _same_origin(conn: HTTPConnection, settings: Settings) -> bool:
    origin = conn.headers.get("origin")
    if not origin:
        return False
    allowed = {conn.headers.get("host", "")}
    if settings.public_url:
        allowed.add(urlsplit(settings.public_url).netloc)
    return urlsplit(origin).netloc in allowed
