"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bot.adapters.db import make_engine


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine on a migrated database (each of SQLite and PostgreSQL), disposed after."""
    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()
