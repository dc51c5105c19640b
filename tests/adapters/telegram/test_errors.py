"""What the Telegram handlers log when something goes wrong."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from bot.adapters.telegram.listeners import on_error
from bot.adapters.telegram.pacing import Paced


def test_a_dropped_paced_answer_is_a_warning_not_an_unhandled_update(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An answer whose flood-control slot was too far away was logged as
    ``ERROR … unhandled Telegram update`` with a traceback; it is a warning line."""
    with caplog.at_level(logging.INFO, logger="bot.telegram"):
        asyncio.run(on_error(object(), SimpleNamespace(error=Paced("-100123", 30.0))))  # type: ignore[arg-type]
    [record] = [r for r in caplog.records if r.name == "bot.telegram"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "is 30.0s away" in record.getMessage()
