"""A fake Slack Web API on 127.0.0.1 that records calls and can fail on purpose.

    with FakeSlack() as slack:
        settings = Settings(slack_api_url=slack.api_url, ...)
        slack.fail("chat.update", rate_limited(retry_after=1), rate_limited(retry_after=1))
        ...
        slack.calls("chat.update")   # the arguments of each call, in order

It answers the Web API methods the bot uses (``/api/<method>``) and records what
``respond()`` posts to response URLs (``/response/<anything>``).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tests.support.http_fake import FakeHttpServer, Recorded

BOT_USER = "UBOT0001"
TEAM = "T0TEAM01"


@dataclass(frozen=True)
class Failure:
    status: int
    body: Any
    headers: dict[str, str]


def rate_limited(retry_after: int = 1) -> Failure:
    return Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def server_error() -> Failure:
    return Failure(500, "upstream exploded", {})


def api_error(error: str) -> Failure:
    return Failure(200, {"ok": False, "error": error}, {})


def arguments(request: Recorded) -> dict[str, Any]:
    """A Web API call's arguments, whichever way the client sent them."""
    args: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    ctype = request.headers.get("content-type", "")
    if request.body and ctype.startswith("application/json"):
        args.update(json.loads(request.body))
    elif request.body:
        args.update({k: v[-1] for k, v in parse_qs(request.body.decode()).items()})
    for key in ("blocks", "view"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


class FakeSlack:
    def __init__(self) -> None:
        self.http = FakeHttpServer()
        self.http.route("POST", r"/api/(?P<method>[\w.]+)", self._api)
        self.http.route("GET", r"/api/(?P<method>[\w.]+)", self._api)
        self.http.route("POST", r"/response/(?P<key>.*)", lambda request, key: (200, "ok"))
        self.usergroups: dict[str, list[str]] = {}
        self.deleted: set[tuple[str, str]] = set()
        self.socket_url: str | None = None
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._log: list[tuple[str, dict[str, Any], bool]] = []

    # -- setup ----------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        self.http.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.http.__exit__(exc_type, exc, tb)

    @property
    def api_url(self) -> str:
        return f"{self.http.url}/api/"

    def response_url(self, key: str = "r") -> str:
        return f"{self.http.url}/response/{key}"

    def fail(self, method: str, *failures: Failure) -> None:
        """Answer the next calls of ``method`` with these failures, in order."""
        with self._lock:
            self._failures.setdefault(method, []).extend(failures)

    # -- what was received ------------------------------------------------------

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The arguments of each call of ``method`` that was answered ``ok``, in order."""
        with self._lock:
            return [args for m, args, ok in self._log if m == method and ok]

    def attempts(self, method: str) -> int:
        """How often ``method`` was called, failures included."""
        return sum(1 for r in self.http.requests if r.path == f"/api/{method}")

    def responses(self) -> list[dict[str, Any]]:
        """What was posted to response URLs (``respond()``)."""
        return [r.json() for r in self.http.requests if r.path.startswith("/response/")]

    def ephemerals(self, user: str) -> list[str]:
        return [c["text"] for c in self.calls("chat.postEphemeral") if c.get("user") == user]

    # -- the API ------------------------------------------------------------------

    def _api(self, request: Recorded, method: str) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = self._answer(request, method)
        ok = status == 200 and isinstance(body, dict) and body.get("ok") is True
        with self._lock:
            self._log.append((method, arguments(request), ok))
        return status, body, headers

    def _answer(self, request: Recorded, method: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            queue = self._failures.get(method)
            failure = queue.pop(0) if queue else None
        if failure is not None:
            return failure.status, failure.body, failure.headers
        args = arguments(request)
        ok: dict[str, Any] = {"ok": True}
        if method == "auth.test":
            body = {**ok, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT001"}
        elif method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            body = {**ok, "channel": args["channel"], "ts": ts, "message": {"ts": ts}}
        elif method == "chat.update":
            if (args["channel"], args["ts"]) in self.deleted:
                body = {"ok": False, "error": "message_not_found"}
            else:
                body = {**ok, "channel": args["channel"], "ts": args["ts"]}
        elif method == "chat.postEphemeral":
            body = {**ok, "message_ts": f"1700000001.{next(self._ts):06d}"}
        elif method == "views.open":
            body = {**ok, "view": {"id": "V0MODAL1", **(args.get("view") or {})}}
        elif method == "usergroups.users.list":
            body = {**ok, "users": self.usergroups.get(args.get("usergroup", ""), [])}
        elif method == "apps.connections.open":
            body = {**ok, "url": self.socket_url}
        else:
            body = {"ok": False, "error": "unknown_method"}
        return 200, body, {}
