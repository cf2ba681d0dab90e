from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.chat.models import Base
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.staff.users import (
    User,
    UserError,
    authenticate,
    create_user,
    get_user,
    get_user_by_email,
    has_admin,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'users.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with session_scope(make_sessionmaker(engine)) as session:
        yield session


def _create(session: Session, email: str = "Ana@Example.com", roles=("agent",)) -> User:
    return create_user(session=session, email=email, name="Ana", password=PASSWORD, roles=roles)


def test_password_is_stored_as_an_argon2_hash(session):
    user = _create(session)
    stored = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_email_is_unique_without_regard_to_case(session):
    user = _create(session)
    assert user.email == "ana@example.com"
    with pytest.raises(UserError, match="exists"):
        _create(session, email="  ANA@example.COM ")
    assert get_user_by_email(session=session, email="ANA@EXAMPLE.COM").id == user.id


def test_several_roles_are_kept(session):
    user = _create(session, roles=["editor", "agent"])
    assert user.role_set == {"agent", "editor"}
    assert get_user(session=session, user_id=user.id).role_set == {"agent", "editor"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "nine char"}, "at least 10"),
        ({"email": "not-an-email"}, "not an email"),
        ({"name": "   "}, "name"),
        ({"roles": ()}, "roles"),
        ({"roles": ("agent", "root")}, "roles"),
    ],
)
def test_bad_input_is_refused(session, fields, message):
    values = {"email": "a@example.com", "name": "A", "password": PASSWORD, "roles": ("agent",)}
    with pytest.raises(UserError, match=message):
        create_user(session=session, **(values | fields))


def test_authenticate_checks_the_password(session):
    user = _create(session)
    assert user.last_login_at is None
    signed_in = authenticate(session=session, email="ANA@example.com", password=PASSWORD)
    assert signed_in is not None and signed_in.id == user.id
    assert signed_in.last_login_at is not None
    assert authenticate(session=session, email="ana@example.com", password=PASSWORD + "x") is None
    assert authenticate(session=session, email="bob@example.com", password=PASSWORD) is None


def test_an_inactive_user_cannot_sign_in(session):
    user = _create(session)
    user.is_active = False
    assert authenticate(session=session, email="ana@example.com", password=PASSWORD) is None


def test_has_admin_counts_active_admins_only(session):
    assert not has_admin(session=session)
    _create(session, roles=("agent", "editor"))
    assert not has_admin(session=session)
    admin = _create(session, email="root@example.com", roles=("admin",))
    assert has_admin(session=session)
    admin.is_active = False
    assert not has_admin(session=session)


def test_a_user_persists_across_sessions(engine):
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as session:
        user_id = _create(session).id
    with session_scope(sessions) as session:
        user = authenticate(session=session, email="ana@example.com", password=PASSWORD)
        assert user is not None and user.id == user_id
