import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Form, Request, WebSocket
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.chat.models import Base
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.staff.auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    Staff,
    StaffSession,
    read_session,
    require_roles,
    sign_session,
    websocket_staff,
)
from bot.staff.routes import TEMPLATES_DIR, LoginLimiter, make_auth_router, make_templates
from bot.staff.users import create_user, get_user_by_email, open_sign_in

PASSWORD = "correct horse battery"
ORIGIN = {"origin": "http://testserver"}
JSON = {"accept": "application/json"}
PAGE = {"accept": "text/html,application/xhtml+xml"}
STATIC_DIR = TEMPLATES_DIR.parent / "static"


def make_app(settings: Settings, *, with_users: bool = True) -> FastAPI:
    """A small staff app: the sign-in router, an agent page, two agent actions, a socket;
    ``with_users`` adds the three staff members to its database."""
    engine = make_engine(settings.sqlalchemy_url)
    Base.metadata.create_all(engine)
    app = FastAPI()
    app.state.settings = settings
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.database = engine
    app.state.clock = time.time
    templates = make_templates()
    app.include_router(make_auth_router(templates=templates))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    AgentDep = Annotated[Staff, Depends(require_roles("agent"))]

    @app.get("/agent")
    async def agent_page(request: Request, staff: AgentDep):
        return templates.TemplateResponse(request, "base.html", {"staff": staff})

    @app.post("/agent/notes")
    async def add_note(staff: AgentDep):
        return {"by": staff.email}

    @app.post("/agent/form")
    async def add_form(staff: AgentDep, text: Annotated[str, Form()]):
        return {"by": staff.email, "text": text}

    @app.websocket("/ws/agent")
    async def agent_socket(websocket: WebSocket):
        staff = await websocket_staff(websocket, ["agent"])
        if staff is not None:
            await websocket.send_json({"hello": staff.name})
            await websocket.close()

    if not with_users:
        return app
    with session_scope(app.state.sessionmaker) as session:
        for email, name, roles in [
            ("ana@example.com", "Ana <script>alert(1)</script>", ("agent",)),
            ("eve@example.com", "Eve", ("editor",)),
            ("root@example.com", "Root", ("admin",)),
        ]:
            create_user(session=session, email=email, name=name, password=PASSWORD, roles=roles)
    return app


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="s" * 40)


@pytest.fixture
def app(settings) -> Iterator[FastAPI]:
    app = make_app(settings)
    yield app
    app.state.database.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def _token(html: str, pattern: str = r'name="csrf_token" value="([^"]+)"') -> str:
    match = re.search(pattern, html)
    assert match, html
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str = ""):
    token = _token(client.get("/login").text)
    data = {"email": email, "password": password, "csrf_token": token, "next": next}
    return client.post("/login", data=data, follow_redirects=False)


def _set_cookies(response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]


def test_sign_in_sets_a_new_httponly_lax_cookie_and_opens_the_page(client):
    anonymous = client.get("/login")
    assert anonymous.status_code == 200 and "Sign in" in anonymous.text
    before = client.cookies[SESSION_COOKIE]
    response = sign_in(client, "ANA@example.com", next="/agent?tab=queue")
    assert response.status_code == 303
    assert response.headers["location"] == "/agent?tab=queue"
    [cookie] = _set_cookies(response)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.cookies[SESSION_COOKIE] != before  # a new session id at sign-in
    page = client.get("/agent", headers=PAGE)
    assert page.status_code == 200
    assert "Agent console" in page.text and "Knowledge base" not in page.text


def test_wrong_password_or_unknown_email_is_refused(client):
    for email, password in [("ana@example.com", PASSWORD + "!"), ("nobody@example.com", PASSWORD)]:
        response = sign_in(client, email, password)
        assert response.status_code == 401
        assert "Wrong email or password." in response.text
        assert client.get("/agent", headers=JSON).status_code == 401


@pytest.mark.parametrize("token", ["", "0" * 64])
def test_sign_in_without_the_right_csrf_token_is_refused(client, token):
    client.get("/login")
    data = {"email": "ana@example.com", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/agent", headers=JSON).status_code == 401


def test_a_tampered_cookie_is_rejected(client):
    sign_in(client, "eve@example.com")
    payload, signature = client.cookies[SESSION_COOKIE].split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["uid"] = 1  # Eve, an editor, claims to be Ana, an agent
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, f"{forged}.{signature}")
    assert client.get("/agent", headers=JSON).status_code == 401


def test_an_expired_session_is_rejected(client, settings, app):
    with session_scope(app.state.sessionmaker) as session:
        user_id = get_user_by_email(session=session, email="ana@example.com").id
        open_sign_in(session=session, sid="s1", user_id=user_id, max_age_s=SESSION_MAX_AGE_S)
    now = 2_000_000_000
    app.state.clock = lambda: now  # the app's clock stands still: the ages below are exact
    fresh = StaffSession(sid="s1", uid=user_id, iat=now - SESSION_MAX_AGE_S)
    client.cookies.set(SESSION_COOKIE, sign_session(settings, fresh))
    assert client.get("/agent", headers=JSON).status_code == 200
    expired = StaffSession(sid="s1", uid=user_id, iat=now - SESSION_MAX_AGE_S - 1)
    client.cookies.set(SESSION_COOKIE, sign_session(settings, expired))
    assert client.get("/agent", headers=JSON).status_code == 401


def test_a_cookie_signed_with_another_key_is_rejected(settings):
    other = Settings(data_dir=settings.data_dir, secret_key="t" * 40)
    issued = 2_000_000_000
    value = sign_session(other, StaffSession(sid="s", uid=1, iat=issued))
    assert read_session(other, value, now=issued) is not None
    assert read_session(settings, value, now=issued) is None


def test_state_changing_requests_need_the_csrf_token(client):
    sign_in(client, "ana@example.com")
    token = _token(client.get("/agent").text, r'name="csrf-token" content="([^"]+)"')
    assert client.post("/agent/notes", json={}).status_code == 403
    wrong = client.post("/agent/notes", json={}, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    ok = client.post("/agent/notes", json={}, headers={"X-CSRF-Token": token})
    assert ok.json() == {"by": "ana@example.com"}
    assert client.post("/agent/form", data={"text": "hi"}).status_code == 403
    form = client.post("/agent/form", data={"text": "hi", "csrf_token": token})
    assert form.json() == {"by": "ana@example.com", "text": "hi"}


def test_not_signed_in_is_401_for_api_calls_and_a_redirect_for_pages(client):
    assert client.get("/agent", headers=JSON).status_code == 401
    page = client.get("/agent?tab=queue", headers=PAGE, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fagent%3Ftab%3Dqueue"


def test_an_editor_cannot_reach_an_agent_route_and_an_admin_can(client):
    sign_in(client, "eve@example.com")
    assert client.get("/agent", headers=JSON).status_code == 403
    client.cookies.clear()
    sign_in(client, "root@example.com")
    page = client.get("/agent", headers=PAGE)
    assert page.status_code == 200
    assert "Agent console" in page.text and "Knowledge base" in page.text


def test_a_deactivated_user_loses_access_at_once(client, app):
    sign_in(client, "ana@example.com")
    with session_scope(app.state.sessionmaker) as session:
        get_user_by_email(session=session, email="ana@example.com").is_active = False
    assert client.get("/agent", headers=JSON).status_code == 401


def test_the_staff_name_is_escaped_in_the_page(client):
    sign_in(client, "ana@example.com")
    page = client.get("/agent").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_what_the_visitor_typed_is_escaped_on_the_sign_in_page(client):
    typed = '"><script>alert(1)</script>'
    page = sign_in(client, typed, next="/agent" + typed).text
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_sign_in_redirects_only_within_the_site(client):
    for target in ["//evil.example/x", "https://evil.example/", "/\\evil.example"]:
        response = sign_in(client, "ana@example.com", next=target)
        assert response.headers["location"] == "/agent"
        client.cookies.clear()
    assert sign_in(client, "eve@example.com").headers["location"] == "/kb"


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client):
    sign_in(client, "ana@example.com")
    token = _token(client.get("/agent").text)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/agent", headers=JSON).status_code == 200
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/agent", headers=JSON).status_code == 401


def test_a_copied_cookie_is_worth_nothing_after_sign_out(client):
    sign_in(client, "ana@example.com")
    stolen = client.cookies.get(SESSION_COOKIE)
    token = _token(client.get("/agent").text)
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, stolen)  # still signed and young, but signed out
    assert client.get("/agent", headers=JSON).status_code == 401
    assert _close_code(client, ORIGIN) == 4401


def test_ten_failures_lock_out_that_email_from_that_address(client):
    for _ in range(10):
        assert sign_in(client, "ana@example.com", "wrong password!").status_code == 401
    locked = sign_in(client, "ana@example.com")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert sign_in(client, "eve@example.com").status_code == 303


def test_the_limiter_forgets_failures_after_its_window(app):
    now = [1000.0]
    limiter = LoginLimiter(max_failures=2, window_s=60, clock=lambda: now[0])
    key = ("ana@example.com", "10.0.0.1")
    with session_scope(app.state.sessionmaker) as session:
        limiter.record_failure(session, key)
        limiter.record_failure(session, key)
        assert limiter.is_locked(session, key)
        assert not limiter.is_locked(session, ("ana@example.com", "10.0.0.2"))
        now[0] += 61
        assert not limiter.is_locked(session, key)


def test_the_lockout_holds_in_every_server_process_and_after_a_restart(settings, client):
    for _ in range(10):
        assert sign_in(client, "ana@example.com", "wrong password!").status_code == 401
    # A second process, or the same one restarted: a new app on the same database.
    other = make_app(settings, with_users=False)
    try:
        with TestClient(other) as second:
            locked = sign_in(second, "ana@example.com")
            assert locked.status_code == 429
    finally:
        other.state.database.dispose()


def _close_code(client: TestClient, headers: dict[str, str]) -> int | dict:
    with client.websocket_connect("/ws/agent", headers=headers) as socket:
        try:
            return socket.receive_json()
        except WebSocketDisconnect as closed:
            return closed.code


def test_the_staff_socket_checks_cookie_role_and_origin(client):
    assert _close_code(client, ORIGIN) == 4401
    sign_in(client, "ana@example.com")
    assert _close_code(client, ORIGIN) == {"hello": "Ana <script>alert(1)</script>"}
    assert _close_code(client, {"origin": "https://evil.example"}) == 4403
    assert _close_code(client, {}) == 4403
    client.cookies.clear()
    sign_in(client, "eve@example.com")
    assert _close_code(client, ORIGIN) == 4403


def test_production_mode_marks_the_cookie_secure(tmp_path):
    settings = Settings(
        mode="production",
        data_dir=tmp_path,
        secret_key="p" * 40,
        allowed_origins=["https://shop.example"],
    )
    app = make_app(settings)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            response = sign_in(client, "ana@example.com")
            assert response.status_code == 303
            [cookie] = _set_cookies(response)
            assert "Secure" in cookie and "HttpOnly" in cookie
            assert client.get("/agent", headers=JSON).status_code == 200
    finally:
        app.state.database.dispose()


def test_unknown_roles_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown roles"):
        require_roles("root")
