"""Alembic, driven from Python (the ``db upgrade`` command and the tests)."""

from __future__ import annotations

from alembic.config import Config

from quartapp.config import PROJECT_ROOT


def alembic_config(database_url: str, *, configure_logging: bool = True) -> Config:
    """Alembic's config for this project; ``configure_logging=False`` leaves logging alone
    (alembic.ini would otherwise replace the handlers of the calling process)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = configure_logging
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
