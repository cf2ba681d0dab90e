import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.cli import main
from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, session_scope
from retrieval.library import current_documents
from retrieval.library import versions as library_versions
from tests.conftest import KB_DIR

CANCEL = "billing-cancel-subscription"


@pytest.fixture
def run(tmp_path):
    env = {"ALLHOURS_DATA_DIR": str(tmp_path / "data"), "ALLHOURS_DATABASE_URL": ""}

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), env=env, input=input)

    return run


@pytest.fixture
def indexed(tmp_path, kb_full_dir):
    """A data folder holding the whole kb_docs index, as after ``allhours index kb_docs``."""
    shutil.copytree(kb_full_dir / "chroma", tmp_path / "data" / "chroma")


def test_index_prints_what_changed_and_is_incremental(run, tmp_path):
    kb = tmp_path / "kb"
    (kb / "billing").mkdir(parents=True)
    for name in ("billing/cancel-subscription.md", "billing/payment-methods.md"):
        shutil.copy(KB_DIR / name, kb / name)

    first = run("index", str(kb))
    assert first.exit_code == 0, first.output
    assert f"2 documents from {kb}: 2 added, 0 updated, 0 deleted, 0 unchanged;" in first.output
    assert "0 chunks embedded" not in first.output

    again = run("index", str(kb))
    assert "2 documents from" in again.output
    assert "0 added, 0 updated, 0 deleted, 2 unchanged; 0 chunks embedded" in again.output

    (kb / "billing" / "payment-methods.md").unlink()
    pruned = run("index", str(kb))
    assert "1 documents from" in pruned.output and "0 added, 0 updated, 1 deleted" in pruned.output


def test_index_makes_the_store_the_source_the_server_answers_from(run, tmp_path):
    kb = tmp_path / "kb"
    (kb / "billing").mkdir(parents=True)
    for name in ("billing/cancel-subscription.md", "billing/payment-methods.md"):
        shutil.copy(KB_DIR / name, kb / name)
    assert run("index", str(kb)).exit_code == 0
    (kb / "billing" / "cancel-subscription.md").write_text(
        (KB_DIR / "billing/cancel-subscription.md").read_text() + "\nAsk us anything.\n"
    )
    (kb / "billing" / "payment-methods.md").unlink()
    result = run("index", str(kb))
    assert "1 documents from" in result.output, result.output
    assert "0 added, 1 updated, 1 deleted, 0 unchanged;" in result.output

    # kb_dir names the whole kb_docs: the server must answer from the store, not from a folder.
    settings = Settings(
        data_dir=tmp_path / "data", kb_dir=KB_DIR, secret_key="k" * 32, handoff_threshold=0.0
    )
    database = make_engine(settings.sqlalchemy_url)
    with session_scope(make_sessionmaker(database)) as session:
        stored = {doc.doc_id: doc for doc in current_documents(session=session)}
        authors = [v.author for v in library_versions(session=session, doc_id=CANCEL)]
    database.dispose()
    assert list(stored) == [CANCEL] and stored[CANCEL].version == 2 and authors == ["cli", "cli"]
    with TestClient(create_app(settings)) as client:
        assert client.app.state.engine.index.doc_ids == {CANCEL}
        body = client.post("/api/ask", json={"question": "How do I cancel my subscription?"})
    citation = body.json()["citations"][0]
    assert (citation["doc_id"], citation["version"]) == (CANCEL, 2)


def test_index_refuses_a_missing_folder(run, tmp_path):
    result = run("index", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "is not a folder" in result.output


def test_ask_json_prints_the_whole_turn(run, indexed):
    result = run("ask", "--json", "Do you ship to Canada?")
    assert result.exit_code == 0, result.output
    turn = json.loads(result.output[result.output.index("{") :])
    assert turn["kind"] == "retrieval" and turn["answer"]
    assert turn["citations"][0]["doc_id"] == "shipping-shipping-options"
    assert 0 <= turn["confidence"] <= 1
    assert {"dense_top", "bm25_top", "coverage", "support"} <= set(turn["signals"])
    assert turn["decision"]["action"] in {"answer", "clarify", "handoff"}


def test_ask_prints_answer_citations_confidence_and_signals(run, indexed):
    result = run("ask", "Do you ship to Canada?")
    assert result.exit_code == 0, result.output
    assert "Canada" in result.output
    assert "[1] Shipping options and delivery times" in result.output  # the cited title
    assert "confidence 0." in result.output and "signals: dense_top=" in result.output


def test_chat_keeps_the_history_for_follow_ups(run, indexed):
    result = run("chat", input="hello\nHow do I cancel my subscription?\nand refunds?\n\n")
    assert result.exit_code == 0, result.output
    assert "Hello! How can I help you today?" in result.output
    assert "(searched for: cancel subscription and refunds?)" in result.output


def test_the_users_group_is_part_of_the_cli(run):
    result = run("--help")
    assert result.exit_code == 0
    for command in ("index", "ask", "chat", "serve", "users"):
        assert command in result.output


SECRET = "Zq9-weak-KEY-7x"  # distinctive: any six characters of it in the output are a leak


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ALLHOURS_SECRET_KEY": SECRET}, "ALLHOURS_SECRET_KEY must be set (32+ characters)"),
        # A key long enough, and origins left at "*": the old traceback showed the key's end.
        (
            {"ALLHOURS_SECRET_KEY": SECRET * 3, "ALLHOURS_ALLOWED_ORIGINS": "*"},
            "ALLHOURS_ALLOWED_ORIGINS must list real origins",
        ),
    ],
    ids=["weak-key", "wildcard-origins"],
)
def test_serve_in_production_with_bad_settings_refuses_in_one_line_that_hides_the_key(
    tmp_path, env, problem
):
    command = [str(Path(sys.executable).parent / "allhours"), "serve"]
    environment = os.environ | {
        "ALLHOURS_MODE": "production",
        "ALLHOURS_ALLOWED_ORIGINS": "https://shop.example",
        "ALLHOURS_DATA_DIR": str(tmp_path / "data"),
    }
    # cwd: no .env of the repository is read.
    refused = subprocess.run(
        command, env=environment | env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert refused.returncode == 1 and refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("Error: invalid settings: ") and problem in line
    output = refused.stdout + refused.stderr
    assert not any(SECRET[i : i + 6] in output for i in range(len(SECRET) - 5))
