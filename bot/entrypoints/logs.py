"""Logging: plain or JSON lines, each with the approval request id it concerns,
and every configured secret replaced by ``***`` wherever it would appear."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.service.logctx import current_request_id


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get() or "-"
        return True


# Our API tokens, redacted even when not configured here; the channels add theirs.
TOKEN_SHAPES = (r"abt_[A-Za-z0-9_-]{20,}",)


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str], shapes: Iterable[str] = (), **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None
        # Tokens that look like ours or a channel's, even when not configured here.
        self._shapes = re.compile(r"\b(" + "|".join((*TOKEN_SHAPES, *shapes)) + ")")

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub("***", text)
        text = self._shapes.sub("***", text)
        return re.sub(r"(?i)(authorization:\s*bearer\s+)\S+", r"\1***", text)


class PlainFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = (
            f"{ts} {record.levelname:<7} {record.name} "
            f"[request={getattr(record, 'request_id', '-')}] {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


class JsonFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(body, ensure_ascii=False))


def configure(
    *,
    fmt: str = "plain",
    level: str = "INFO",
    secrets: Iterable[str] = (),
    shapes: Iterable[str] = (),
) -> None:
    """Install one stderr handler on the root logger; uvicorn's loggers propagate to it.
    ``shapes``: regular expressions of tokens to redact even when not configured."""
    kind = JsonFormatter if fmt == "json" else PlainFormatter
    formatter: logging.Formatter = kind(secrets, shapes)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    for noisy in (
        "httpx",
        "httpcore",
        "alembic",
        "apscheduler.executors.default",
        "apscheduler.scheduler",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
