"""``allhours users ...``: create, deactivate and reactivate staff accounts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, session_scope
from bot.migrations import upgrade_database
from bot.staff.users import MIN_PASSWORD_CHARS, ROLES, UserError, create_user, has_admin, set_active

DEMO_ADMIN_EMAIL = "admin@localhost"


@click.group()
def users() -> None:
    """Manage staff accounts (agents, editors, admins)."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(ROLES),
    help="Repeat for several roles; admin implies all.",
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help=f"At least {MIN_PASSWORD_CHARS} characters; prompted for when left out.",
)
@click.pass_context
def create(
    ctx: click.Context, email: str, name: str, roles: tuple[str, ...], password: str
) -> None:
    """Create a staff account."""
    try:
        with _session(ctx) as session:
            user = create_user(
                session=session, email=email, name=name, password=password, roles=roles
            )
            click.echo(f"Created {user.email} ({', '.join(sorted(user.role_set))}).")
    except UserError as error:
        raise click.ClickException(str(error)) from error


@users.command("deactivate")
@click.argument("email")
@click.pass_context
def deactivate(ctx: click.Context, email: str) -> None:
    """Stop a member signing in; their open sessions and consoles end now."""
    _set_active(ctx, email, active=False)


@users.command("reactivate")
@click.argument("email")
@click.pass_context
def reactivate(ctx: click.Context, email: str) -> None:
    """Let a deactivated member sign in again."""
    _set_active(ctx, email, active=True)


def _set_active(ctx: click.Context, email: str, *, active: bool) -> None:
    try:
        with _session(ctx) as session:
            user = set_active(session=session, email=email, active=active)
            click.echo(f"{user.email} is {'active' if active else 'deactivated'}.")
    except UserError as error:
        raise click.ClickException(str(error)) from error


@users.command("demo-admin")
@click.pass_context
def demo_admin(ctx: click.Context) -> None:
    """Create admin@localhost with a random password, shown once, unless an admin exists."""
    with _session(ctx) as session:
        if has_admin(session=session):
            click.echo("An admin account exists already; no demo admin created.")
            return
        password = secrets.token_urlsafe(12)
        try:
            create_user(
                session=session,
                email=DEMO_ADMIN_EMAIL,
                name="Demo admin",
                password=password,
                roles=("admin",),
            )
        except UserError as error:  # admin@localhost exists, without the admin role
            raise click.ClickException(str(error)) from error
    # Printed only after the commit, so a password shown is a password that works.
    click.echo(f"Demo admin created. Sign in at /login as {DEMO_ADMIN_EMAIL}")
    click.echo(f"with the password {password} (shown this once; it is stored only hashed).")


@contextmanager
def _session(ctx: click.Context) -> Iterator[Session]:
    # The main group may put its Settings on the context; standalone, read them from the env.
    settings = ctx.find_object(Settings) or Settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        # `make run` calls demo-admin on a fresh install, before the server ever started.
        upgrade_database(engine)
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()
