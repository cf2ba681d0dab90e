"""Alembic environment: the metadata of every package that owns tables."""

from __future__ import annotations

from typing import Literal

from alembic import context
from sqlalchemy import MetaData, TypeDecorator

# Import every module that defines tables, so autogenerate sees them all.
import bot.email.models  # noqa: F401  (email tables live on bot.chat.models.Base too)
import bot.staff.users  # noqa: F401  (the users table lives on bot.chat.models.Base)
from bot.chat.models import Base as BotBase
from handoff.models import Base as HandoffBase
from retrieval.models import Base as RetrievalBase

TARGET_METADATA: list[MetaData] = [BotBase.metadata, HandoffBase.metadata, RetrievalBase.metadata]


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.config import Settings

    return Settings().sqlalchemy_url


def _render_item(kind: str, obj: object, _autogen_context: object) -> str | Literal[False]:
    # A revision must not import model code, which changes later: a TypeDecorator column
    # is written as the plain type it stores.
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        render_item=_render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:  # called by the app with its own engine
        _configure_and_run(connection)
        return
    from bot.db import make_engine

    engine = make_engine(_database_url())
    with engine.connect() as connection:
        _configure_and_run(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=TARGET_METADATA, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
