"""The approval request a log line concerns, carried in a context variable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("approval_request_id", default=None)


@contextlib.contextmanager
def bind_request(request_id: str | None) -> Iterator[None]:
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)
