"""The HTTP API fuzzed from its own OpenAPI document by schemathesis, in process (ASGI): every
operation a customer or a signed-in staff member can call, with valid and invalid input, as an
outside probe would send it. No answer may be a 5xx, and the server stays up.

Deterministic: a fixed seed, derandomized generation, no example database; at most 25 cases
per operation and mode (valid input, invalid input). Hypothesis runs each operation's strategy
itself: schemathesis' pytest loader (from_fixture) fails on pytest 9.2 (Node._nodeid is gone)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from bot.app import create_app
from bot.config import Settings
from tests.conftest import KB_DIR
from tests.staff import signed_in_headers

SEED = 20261203
EXAMPLES = 25  # per operation and per mode (valid input, invalid input)
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,  # two busy cores: time is not what is tested
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, kb_full_dir) -> Iterator[dict[str, Any]]:
    """The app with its lifespan running in schemathesis' event loop, its schema, a
    conversation, and a member signed in with every role (the console's and the editor's
    routes are reached, not only refused)."""
    data = tmp_path_factory.mktemp("fuzz-api")
    shutil.copytree(kb_full_dir / "chroma", data / "chroma")
    settings = Settings(
        data_dir=data,
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        rate_limit_ip_per_minute=100_000,  # every case comes from one address
        rate_limit_conversation_per_minute=100_000,
    )
    app = create_app(settings)
    # Loading the schema starts the app's lifespan in schemathesis' ASGI client (its event loop
    # thread); it runs until shutdown_lifespans().
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        with asgi.get_client(app) as client:
            created = client.post("/api/conversations", json={}).json()
        headers = signed_in_headers(app, "admin", "agent", "editor")  # Origin: http://testserver
        headers["Authorization"] = f"Bearer {created['token']}"
        yield {"app": app, "schema": schema, "headers": headers, "conversation": created}
    finally:
        asgi.shutdown_lifespans()


def test_no_operation_answers_a_server_error(fuzzed):
    conversation_id = fuzzed["conversation"]["conversation_id"]
    failures = []
    for result in fuzzed["schema"].get_all_operations():
        operation = result.ok()
        # Routes of one conversation need its id (the bearer token is bound to it); random ids
        # only ever meet 401 or 404, so the conversation's own is used to reach the code behind.
        mine = "{conversation_id}" in operation.path
        fixed = {"conversation_id": conversation_id} if mine else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(mode, path_parameters=fixed)

            @FUZZ
            @seed(SEED)
            @given(case=strategy)
            def no_server_error(case):
                response = case.call(headers=fuzzed["headers"])
                assert response.status_code < 500, (
                    f"{response.status_code} {response.text[:300]!r} for {case.as_curl_command()}"
                )

            try:
                no_server_error()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing in it can be made invalid
            except Exception as error:  # a 5xx, or an exception the app let out (the same)
                failures.append(f"{operation.label} ({mode.value}): {error!r}"[:2000])
    assert failures == [], "\n\n".join(failures)


def test_the_server_is_still_up_and_answers_after_the_fuzzing(fuzzed):
    with asgi.get_client(fuzzed["app"]) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        created = client.post("/api/conversations", json={}).json()
        posted = client.post(
            f"/api/conversations/{created['conversation_id']}/messages",
            json={"client_id": "after", "text": "hello"},
            headers={"Authorization": f"Bearer {created['token']}"},
        )
    assert posted.status_code == 201 and posted.json()["replies"]
