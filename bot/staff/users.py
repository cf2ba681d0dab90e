"""Staff users (agents, editors, supervisors, admins): tables, password hashing, crud."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import DateTime, Float, ForeignKey, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.chat.models import Base

ROLES = ("agent", "editor", "supervisor", "admin")
MIN_PASSWORD_CHARS = 10
# One "@", no spaces; "admin@localhost" is valid on purpose (the demo admin).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_HASHER = PasswordHash((Argon2Hasher(),))


class UserError(ValueError):
    """A user cannot be created as asked; str() says why, fit to show to the person."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (stripped, lower case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(64))  # space-separated, sorted: "agent editor"
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class SignIn(Base):
    """An open staff sign-in. The session cookie is signed, but only a cookie whose sign-in is
    still here is honoured: signing out deletes it, so a copied cookie dies with the logout."""

    __tablename__ = "staff_sign_ins"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class FailedSignIn(Base):
    """One failed sign-in, kept for the lockout window. In the database, so every server
    process and a restart see the same count. ``key`` is a hash of the email and the client
    address: the table holds no address book of who tried what."""

    __tablename__ = "staff_failed_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)  # Unix seconds


def open_sign_in(*, session: Session, sid: str, user_id: int, max_age_s: float) -> None:
    """Record a sign-in; sign-ins older than ``max_age_s`` (expired anyway) are dropped."""
    horizon = datetime.now(UTC) - timedelta(seconds=max_age_s)
    session.execute(delete(SignIn).where(SignIn.created_at < horizon))
    session.add(SignIn(sid=sid, user_id=user_id))
    session.flush()


def close_sign_in(*, session: Session, sid: str) -> None:
    session.execute(delete(SignIn).where(SignIn.sid == sid))


def set_active(*, session: Session, email: str, active: bool) -> User:
    """Let a member sign in again, or stop them: deactivating also closes their open sign-ins
    (and so, within a few seconds, their open consoles)."""
    user = get_user_by_email(session=session, email=email)
    if user is None:
        raise UserError(f"no user with email {normalize_email(email)}")
    user.is_active = active
    if not active:
        session.execute(delete(SignIn).where(SignIn.user_id == user.id))
    session.flush()
    return user


def sign_in_is_open(*, session: Session, sid: str, user_id: int) -> bool:
    found = session.get(SignIn, sid)
    return found is not None and found.user_id == user_id


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """(matches, new hash or None): a new hash when the stored one uses outdated parameters."""
    return _HASHER.verify_and_update(password, password_hash)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    *, session: Session, email: str, name: str, password: str, roles: list[str] | tuple[str, ...]
) -> User:
    """Add a user (flushed, not committed); raises UserError on bad input or a taken email."""
    email = normalize_email(email)
    name = name.strip()
    if not _EMAIL.match(email):
        raise UserError(f"not an email address: {email!r}")
    if not name:
        raise UserError("a name is required")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    wanted = set(roles)
    if not wanted or not wanted <= set(ROLES):
        raise UserError(f"roles must be one or more of {', '.join(ROLES)}")
    if get_user_by_email(session=session, email=email) is not None:
        raise UserError(f"a user with email {email} exists")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        roles=" ".join(sorted(wanted)),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:  # another process took the email between check and insert
        raise UserError(f"a user with email {email} exists") from error
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None; records the sign-in time."""
    user = get_user_by_email(session=session, email=email)
    if user is None or not user.is_active:
        # Hash anyway, so that response time does not tell which emails exist.
        _HASHER.verify(password, _dummy_hash())
        return None
    matches, new_hash = verify_password(password, user.password_hash)
    if not matches:
        return None
    if new_hash:
        user.password_hash = new_hash
    user.last_login_at = datetime.now(UTC)
    session.flush()
    return user


def get_user(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def display_name(*, session: Session, user_id: str) -> str | None:
    """A staff member's name by id as text (console agent ids are user ids), else None."""
    user = session.get(User, int(user_id)) if user_id.isdigit() else None
    return user.name if user is not None else None


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def has_admin(*, session: Session) -> bool:
    # No other role name contains "admin", so a substring match is exact.
    query = (
        select(func.count())
        .select_from(User)
        .where(User.roles.contains("admin"), User.is_active.is_(True))
    )
    return bool(session.scalar(query))


@cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")
