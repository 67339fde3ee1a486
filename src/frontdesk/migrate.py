"""Run Alembic migrations programmatically (`frontdesk migrate`, `demo`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def sync_url(url: str) -> str:
    """Alembic runs on a synchronous driver: aiosqlite → pysqlite; psycopg 3 does both."""
    return url.replace("sqlite+aiosqlite://", "sqlite://", 1)


def _script_location() -> Path:
    packaged = Path(__file__).parent / "_migrations"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
