"""Cursor pagination (``bot.service.cursor``): a bad cursor is a 422 naming it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.model import ApprovalRequest
from bot.entrypoints.http.errors import invalid
from bot.service import cursor as cursors
from bot.service.cursor import encode_cursor
from bot.service.queries import Queries
from bot.service.views import request_to_dict


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        return cursors.decode_cursor(cursor)
    except ValueError:
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
