"""Cursors for paging requests: an opaque cursor is the (created_at, id) of the last item
served. The API and the console's audit page page the same way."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime


def encode_cursor(created_at: datetime, request_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position in ``cursor``; ValueError when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, rid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(rid, str):
            raise ValueError
        return when, rid
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a valid cursor") from None
