"""The at-scale database, for real: the app's migrations, a customer's chat, staff sign-in,
the claim race and a server restart, on a PostgreSQL server started for these tests."""

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from bot.app import create_app
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.migrations import upgrade_database
from bot.staff.users import create_user
from evals.postgres import Postgres, binary, postgres_server
from handoff.models import Base as HandoffBase
from tests.handoff_db import (
    assert_each_slot_filled_once,
    assert_one_alert_opens,
    assert_one_claim_wins,
)
from tests.widget_app import ANSWERABLE, ANSWERABLE_TOO, bearer, start


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    if binary("initdb") is None:
        pytest.skip("PostgreSQL is not installed (make test installs it)")
    with postgres_server() as server:
        yield server


@pytest.fixture
def app_client(postgres, chat_settings) -> Iterator[TestClient]:
    settings = chat_settings(database_url=postgres.new_database())
    with TestClient(create_app(settings)) as client:
        yield client


def _send(client, conversation_id, token, client_id, text):
    path = f"/api/conversations/{conversation_id}/messages"
    return client.post(path, json={"client_id": client_id, "text": text}, headers=bearer(token))


def _seqs(client, conversation_id, token) -> list[int]:
    path = f"/api/conversations/{conversation_id}/messages"
    return [m["seq"] for m in client.get(path, headers=bearer(token)).json()]


def test_a_chat_survives_a_postgresql_restart(postgres, app_client):
    conversation_id, token = start(app_client)
    assert _send(app_client, conversation_id, token, "a", ANSWERABLE).status_code == 201
    postgres.restart()  # every pooled connection is now dead
    again = _send(app_client, conversation_id, token, "b", ANSWERABLE_TOO)
    assert again.status_code == 201 and again.json()["replies"]
    assert _seqs(app_client, conversation_id, token) == [1, 2, 3, 4]
    resent = _send(app_client, conversation_id, token, "b", ANSWERABLE_TOO)
    assert resent.status_code == 200 and resent.json()["duplicate"] is True


def test_staff_sign_in_sign_out_and_lockout_on_postgresql(app_client):
    with session_scope(app_client.app.state.sessionmaker) as session:
        create_user(
            session=session, email="ana@example.com", name="Ana", password="p" * 12, roles=["agent"]
        )

    def sign_in(password: str):
        form = app_client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        data = {"email": "ana@example.com", "password": password, "csrf_token": token}
        return app_client.post("/login", data=data, follow_redirects=False)

    assert sign_in("p" * 12).status_code == 303
    queue = app_client.get("/api/agent/queue")
    assert queue.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', app_client.get("/agent").text)
    app_client.post("/logout", headers={"X-CSRF-Token": csrf.group(1)}, follow_redirects=False)
    assert app_client.get("/api/agent/queue").status_code == 401
    for _ in range(10):
        assert sign_in("wrong password").status_code == 401
    assert sign_in("p" * 12).status_code == 429


def test_concurrent_claims_have_exactly_one_winner_on_postgresql(postgres):
    engine = create_engine(postgres.new_database(), pool_size=10)
    HandoffBase.metadata.create_all(engine)
    try:
        assert_one_claim_wins(sessionmaker(engine, expire_on_commit=False))
    finally:
        engine.dispose()


def test_processes_seeing_the_queue_pass_the_limit_at_once_open_one_alert(postgres):
    engine = make_engine(postgres.new_database())
    upgrade_database(engine)  # the real migrations: the unique open slot is theirs
    try:
        assert_one_alert_opens(make_sessionmaker(engine))
    finally:
        engine.dispose()


def test_processes_auto_assigning_at_once_fill_each_free_slot_once(postgres):
    engine = make_engine(postgres.new_database())
    upgrade_database(engine)
    try:
        assert_each_slot_filled_once(make_sessionmaker(engine))
    finally:
        engine.dispose()
