"""Cursors for paging requests: a cursor is the (created_at, id) of the last item served,
as ``<microseconds since 1970>.<id>``. Clients treat it as opaque; ``CURSOR_PATTERN`` says
exactly which strings are cursors, so the API's schema and its validation agree."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

CURSOR_PATTERN = r"^[0-9]{1,16}\.[a-z0-9]{1,16}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(created_at: datetime, request_id: str) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{request_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position in ``cursor``; ValueError when it is not one of ours."""
    if not _CURSOR.fullmatch(cursor):
        raise ValueError("not a valid cursor")
    micros, request_id = cursor.split(".", 1)
    return _EPOCH + timedelta(microseconds=int(micros)), request_id
