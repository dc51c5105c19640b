"""Cursor pagination: an opaque cursor is the (created_at, id) of the last item served."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from bot.domain.model import ApprovalRequest
from bot.entrypoints.http.errors import invalid
from bot.service.queries import Queries
from bot.service.views import request_to_dict


def encode_cursor(created_at: datetime, request_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, rid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(rid, str):
            raise ValueError
        return when, rid
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a valid cursor") from None


def after(cursor: str | None) -> tuple[datetime, str] | None:
    return decode_cursor(cursor) if cursor else None


def page(
    queries: Queries, found: list[ApprovalRequest], limit: int, *, history: bool
) -> dict[str, Any]:
    """One page of ``limit`` requests out of ``found`` (asked for ``limit + 1``)."""
    more = len(found) > limit
    items = found[:limit]
    hist = queries.history(items) if history else {}
    return {
        "items": [request_to_dict(r, history=hist.get(r.id) if history else None) for r in items],
        "next_cursor": encode_cursor(items[-1].created_at, items[-1].id) if more else None,
    }
