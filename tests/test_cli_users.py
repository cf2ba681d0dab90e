import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.staff.cli import users
from bot.staff.users import authenticate, get_user_by_email, open_sign_in, sign_in_is_open

PASSWORD = "correct horse battery"


@pytest.fixture
def run(tmp_path):
    env = {"ALLHOURS_DATA_DIR": str(tmp_path), "ALLHOURS_DATABASE_URL": ""}

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(users, list(args), env=env, input=input)

    return run


@pytest.fixture
def sessions(tmp_path) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database that the CLI writes."""
    engine = make_engine(Settings(data_dir=tmp_path).sqlalchemy_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_create_adds_a_user_with_several_roles(run, sessions):
    args = ["create", "--email", "Ana@Example.com", "--name", "Ana", "--role", "agent"]
    result = run(*args, "--role", "editor", "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created ana@example.com (agent, editor)." in result.output
    with session_scope(sessions) as session:
        user = authenticate(session=session, email="ana@example.com", password=PASSWORD)
        assert user is not None and user.role_set == {"agent", "editor"}


def test_create_prompts_for_the_password_twice(run, sessions):
    args = ["create", "--email", "eve@example.com", "--name", "Eve", "--role", "editor"]
    result = run(*args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # the prompt hides what is typed
    with session_scope(sessions) as session:
        assert get_user_by_email(session=session, email="eve@example.com") is not None


def test_create_refuses_a_short_password_a_taken_email_and_an_unknown_role(run):
    base = ["create", "--email", "ana@example.com", "--name", "Ana"]
    short = run(*base, "--role", "agent", "--password", "short")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    assert run(*base, "--role", "agent", "--password", PASSWORD).exit_code == 0
    taken = run(*base, "--role", "agent", "--password", PASSWORD)
    assert taken.exit_code == 1 and "exists" in taken.output
    unknown = run(*base, "--role", "root", "--password", PASSWORD)
    assert unknown.exit_code == 2 and "root" in unknown.output


def test_demo_admin_prints_a_working_password_once(run, sessions):
    first = run("demo-admin")
    assert first.exit_code == 0, first.output
    [password] = re.findall(r"with the password (\S+) ", first.output)
    second = run("demo-admin")
    assert second.exit_code == 0
    assert "exists already" in second.output and password not in second.output
    with session_scope(sessions) as session:
        admin = authenticate(session=session, email="admin@localhost", password=password)
        assert admin is not None and admin.role_set == {"admin"}


def test_demo_admin_is_not_made_when_an_admin_exists(run):
    args = ["create", "--email", "boss@example.com", "--name", "Boss", "--role", "admin"]
    assert run(*args, "--password", PASSWORD).exit_code == 0
    result = run("demo-admin")
    assert result.exit_code == 0 and "exists already" in result.output
    assert "password" not in result.output


def test_deactivate_stops_sign_in_and_closes_open_sign_ins(run, sessions):
    args = ["create", "--email", "ana@example.com", "--name", "Ana", "--role", "agent"]
    assert run(*args, "--password", PASSWORD).exit_code == 0
    with session_scope(sessions) as session:
        user_id = get_user_by_email(session=session, email="ana@example.com").id
        open_sign_in(session=session, sid="laptop", user_id=user_id, max_age_s=3600)

    result = run("deactivate", "ANA@example.com")
    assert result.exit_code == 0 and "ana@example.com is deactivated" in result.output
    with session_scope(sessions) as session:
        assert not sign_in_is_open(session=session, sid="laptop", user_id=user_id)
        assert authenticate(session=session, email="ana@example.com", password=PASSWORD) is None

    assert run("reactivate", "ana@example.com").exit_code == 0
    with session_scope(sessions) as session:
        assert authenticate(session=session, email="ana@example.com", password=PASSWORD)
    unknown = run("deactivate", "nobody@example.com")
    assert unknown.exit_code != 0 and "no user with email nobody@example.com" in unknown.output
