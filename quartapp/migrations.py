"""Alembic, driven from Python (the ``db upgrade`` command and the tests)."""

from __future__ import annotations

from alembic.config import Config

from quartapp.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
