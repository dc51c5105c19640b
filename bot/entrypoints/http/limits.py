"""413 for a body over the limit, declared or streamed, before anything parses it; and 422
for a JSON body that is not UTF-8 (JSON is UTF-8; parsers would guess another encoding)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.domain.evidence import MAX_ALT, MAX_PICTURES
from bot.entrypoints.http.errors import error_body, unprocessable
from bot.service.schemas import IMAGE_BASE64_CHARS

MAX_BODY = 64 * 1024
# A submission may carry its evidence pictures (base64, README.md "Evidence").
MAX_SUBMISSION = MAX_BODY + MAX_PICTURES * (IMAGE_BASE64_CHARS + 4 * MAX_ALT)


class BodyLimit:
    """Bodies here are small (the API, the chat channels' callbacks), so the body is
    buffered up to the limit and then replayed to the app."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.larger = larger or {}  # path → its own limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.limit)
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._reject(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(scope) and (problem := _not_utf8(body)):
            await _send(send, 422, unprocessable([{"path": "(body)", "message": problem}]))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, limit: int) -> None:
        message = f"request body is larger than {limit} bytes"
        await _send(send, 413, error_body("payload_too_large", message))


def _is_json(scope: Scope) -> bool:
    headers: dict[bytes, bytes] = dict(scope.get("headers") or {})
    ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return ctype == b"application/json" or ctype.endswith(b"+json")


def _not_utf8(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte 0x{body[exc.start]:02x} at position {exc.start})"
    return None


async def _send(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
