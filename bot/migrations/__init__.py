"""Alembic migrations for every package's tables; the app upgrades to head on start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

_HERE = Path(__file__).resolve().parent


def alembic_config(url: str = "") -> Config:
    """A config that works from any working directory (the root alembic.ini is for the CLI)."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run on every start."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
