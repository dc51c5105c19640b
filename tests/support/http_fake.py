"""A tiny threaded HTTP server on 127.0.0.1 for real-protocol fakes in tests.

    fake = FakeHttpServer()
    fake.route("GET", r"/things/(?P<id>\\w+)", lambda request, id: (200, {"id": id}))
    with fake:
        ...  # point the code under test at fake.url
    fake.requests  # every request received, in order

A handler gets the ``Recorded`` request and the pattern's named groups and returns
``(status, body)`` or ``(status, body, headers)``; dict/list bodies are sent as JSON.
Unrouted requests get 404. Handlers run on the server's threads; ``requests`` is locked.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, Any] | tuple[int, Any, dict[str, str]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks connect dozens at once; 5 would reset them

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a cancelled long poll): nothing to report
        super().handle_error(request, client_address)


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when it arrived (wall clock, for benchmarks)
    peer: str = ""  # the client's address and port: one per connection

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeHttpServer:
    """Routes + a request log; a context manager that serves on a free port.

    ``keep_alive``: speak HTTP/1.1 and keep connections open, as real APIs do (HTTP/1.0
    closes each one after its response).
    """

    keep_alive: bool = False
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    _requests: list[Recorded] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(pattern), handler))

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        fake = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if fake.keep_alive else "HTTP/1.0"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    peer=f"{self.client_address[0]}:{self.client_address[1]}",
                )
                with fake._lock:
                    fake._requests.append(recorded)
                status, body, headers = fake._dispatch(recorded)
                payload = (
                    body
                    if isinstance(body, bytes)
                    else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
                )
                self.send_response(status)
                if not isinstance(body, (bytes, str)):
                    self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server(("127.0.0.1", 0), RequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-http", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _dispatch(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                result = handler(request, **match.groupdict())
                if len(result) == 2:
                    return result[0], result[1], {}
                return result
        return 404, {"error": f"no route for {request.method} {request.path}"}, {}
