"""The at-scale topology, started by the suite (``evals.topology``): real PostgreSQL,
redis-server and a Chroma server, and two ``allhours serve`` processes (A and B) sharing them,
as compose.yaml runs it. The LLM is the fake OpenAI-compatible server of the test process, so
a test can make answers stream slowly, fail or break off; outgoing email goes to a capturing
SMTP server of the test process. Clients talk to the servers over real
HTTP and WebSockets.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from websockets.sync.client import ClientConnection, connect

import evals.topology
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from evals.postgres import Postgres, postgres_server
from evals.services import AppServer, free_port
from tests.openai_server import OpenAIServer
from tests.smtp_capture import Captured, capturing_smtp
from tests.staff import sign_in_member

SECRET = "s" * 40  # shared: a token or sign-in issued by one process is good on the other
Event = dict[str, Any]


def _settings(llm: OpenAIServer, outbox: Captured) -> dict[str, str]:
    return {
        "ALLHOURS_SECRET_KEY": SECRET,
        "ALLHOURS_SUPPORT_ADDRESS": "support@tidewater.example",  # the email channel, on
        "ALLHOURS_SMTP_HOST": "127.0.0.1",
        "ALLHOURS_SMTP_PORT": str(outbox.port),
        "ALLHOURS_SMTP_TLS": "none",
        "ALLHOURS_BUSINESS_HOURS": "always",
        "ALLHOURS_HANDOFF_THRESHOLD": "0.0",  # answers, whatever the calibration says
        "ALLHOURS_LLM": "openai",
        "ALLHOURS_OPENAI_BASE_URL": llm.base_url,
        "ALLHOURS_LLM_TIMEOUT_S": "20",
        "ALLHOURS_LLM_MAX_RETRIES": "0",
        "ALLHOURS_TURN_LEASE_S": "3",  # a killed server's turn is taken over after 3 s
        "ALLHOURS_SLA_WAIT_S": "3600",
        "ALLHOURS_QUEUE_ALERT_LENGTH": "2",
        "ALLHOURS_RATE_LIMIT_IP_PER_MINUTE": "1000",
        "ALLHOURS_RATE_LIMIT_CONVERSATION_PER_MINUTE": "6",
    }


class Topology(evals.topology.Topology):
    """Two servers, A and B, answering through the fake LLM of the test process."""

    def __init__(
        self, folder: Path, postgres: Postgres, llm: OpenAIServer, outbox: Captured
    ) -> None:
        super().__init__(folder, postgres, _settings(llm, outbox))
        self.llm, self.outbox = llm, outbox
        self.a, self.b = self.servers
        self.sessions: sessionmaker[Session] = make_sessionmaker(make_engine(self.database_url))
        # The servers' settings as this process sees them: to sign staff sessions as they do.
        self.app_settings = Settings(secret_key=SECRET, database_url=self.database_url)

    def start(self) -> str:
        prepared = super().start()
        print(prepared)
        return prepared

    def stop(self) -> None:
        super().stop()
        self.sessions.kw["bind"].dispose()

    def staff(self, name: str, *roles: str) -> dict[str, str]:
        """A new member with ``roles``, signed in: the headers their browser sends (to either
        process: the sign-in is in the shared database, the cookie signed with the shared key)."""
        email = f"{name.lower()}@example.com"
        return sign_in_member(self.sessions, self.app_settings, *roles, email=email, name=name)


@contextmanager
def topology(folder: Path) -> Iterator[Topology]:
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_server())
        llm = OpenAIServer().start()
        stack.callback(llm.stop)
        outbox = stack.enter_context(capturing_smtp())
        started = Topology(folder, postgres, llm, outbox)
        stack.callback(started.stop)
        started.start()
        yield started


# --- clients: what a widget and a console do, over the network ---


def start_conversation(server: AppServer) -> tuple[str, str]:
    body = httpx.post(f"{server.url}/api/conversations", json={}).raise_for_status().json()
    return body["conversation_id"], body["token"]


def widget(server: AppServer, token: str, after: int = 0) -> ClientConnection:
    return connect(f"{server.ws_url}/ws/widget?token={token}&after={after}", open_timeout=30)


def console(server: AppServer, headers: dict[str, str]) -> ClientConnection:
    origin = {"origin": server.url}
    return connect(f"{server.ws_url}/ws/agent", additional_headers=headers | origin)


def request(
    server: AppServer, method: str, path: str, headers: dict[str, str], **kwargs: Any
) -> httpx.Response:
    """A staff member's browser request (their cookie, CSRF token and the server's Origin)."""
    headers = headers | {"origin": server.url}
    return httpx.request(method, f"{server.url}{path}", headers=headers, timeout=60, **kwargs)


def post(server: AppServer, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    return request(server, "POST", path, headers, **kwargs)


def put(server: AppServer, path: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
    return request(server, "PUT", path, headers, **kwargs)


def delete(server: AppServer, path: str, headers: dict[str, str]) -> httpx.Response:
    return request(server, "DELETE", path, headers)


def post_handoff(server: AppServer, conversation_id: str, token: str) -> None:
    """The customer asks for a person (the widget's REST twin)."""
    path = f"{server.url}/api/conversations/{conversation_id}/handoff"
    httpx.post(path, headers={"Authorization": f"Bearer {token}"}).raise_for_status()


def drain_queue(scale: Topology) -> None:
    """Resolve whatever earlier tests left waiting, so that queue lengths start at zero."""
    sweeper = scale.staff(f"Sweeper{free_port()}", "agent")
    presence = {"presence": "online", "capacity": 50}
    request(scale.a, "PUT", "/api/agent/presence", sweeper, json=presence).raise_for_status()
    queued = request(scale.a, "GET", "/api/agent/queue", sweeper).raise_for_status().json()
    for item in queued["items"]:
        base = f"/api/agent/conversations/{item['conversation_id']}"
        post(scale.a, f"{base}/claim", sweeper).raise_for_status()
        post(scale.a, f"{base}/resolve", sweeper).raise_for_status()
    presence = {"presence": "offline"}  # online agents would change what the next test sees
    request(scale.a, "PUT", "/api/agent/presence", sweeper, json=presence).raise_for_status()


def sign_in(server: AppServer, email: str, password: str) -> int:
    """The sign-in form filled in and sent, as a browser does; the response's status."""
    with httpx.Client(base_url=server.url, headers={"origin": server.url}) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        fields = {"email": email, "password": password, "csrf_token": csrf.group(1)}
        return browser.post("/login", data=fields).status_code


def events_until(ws: ClientConnection, match: Callable[[Event], bool]) -> list[Event]:
    """Every event up to and including the first that matches."""
    events: list[Event] = []
    wait_for(ws, lambda e: events.append(e) or match(e))
    return events


def wait_for(ws: ClientConnection, match: Callable[[Event], bool], *, seconds: float = 30) -> Event:
    """The first event that matches, within ``seconds``; the others are passed over."""
    deadline = time.monotonic() + seconds
    seen: list[Any] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event in {seconds} s among {seen[-10:]}")
        try:
            event = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if match(event):
            return event
        seen.append(event)


def of_type(kind: str, **fields: Any) -> Callable[[Event], bool]:
    return lambda e: e.get("type") == kind and all(e.get(k) == v for k, v in fields.items())


def eventually(check: Callable[[], Any], *, seconds: float, what: str) -> Any:
    """Poll ``check`` until it returns something true, within ``seconds`` (no fixed sleeps).
    A check that began after the deadline has the last word: a slow check (a whole answering
    turn on a busy machine) does not fail what was already true when the deadline passed."""
    deadline = time.monotonic() + seconds
    while True:
        began = time.monotonic()
        result = check()
        if result:
            return result
        if began > deadline:
            raise AssertionError(f"{what}: not within {seconds} s (last: {result!r})")
        time.sleep(0.05)
