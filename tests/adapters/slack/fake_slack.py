"""A strict fake Slack Web API on 127.0.0.1 that records calls and can fail on purpose.

    with FakeSlack() as slack:
        settings = Settings(slack_api_url=slack.api_url, ...)
        slack.fail("chat.update", rate_limited(retry_after=1), rate_limited(retry_after=1))
        ...
        slack.calls("chat.update")   # the arguments of each call, in order

It answers the Web API methods the bot uses (``/api/<method>``) and records what
``respond()`` posts to response URLs (``/response/<anything>``). Posted messages are kept
(with their ``metadata``) and can be read back with ``conversations.history`` and
``conversations.replies``, as Slack does.

It refuses what Slack refuses (``block_kit.py`` says how, and cites where Slack says so):

- blocks (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``, response URLs) and
  views (``views.open``, ``views.update``) past Block Kit's limits: ``invalid_blocks`` /
  ``invalid_arguments`` with ``[ERROR] ... [json-pointer:...]`` messages, HTTP 400 on a
  response URL; a message with neither text nor blocks (``no_text``), text over 40,000
  characters (``msg_too_long``);
- ``chat.update`` of a ts it never posted (or deleted): ``message_not_found``;
- calls past the rate limits (``rate_limits.py``): HTTP 429, ``Retry-After``, ``ratelimited``.
- file uploads other than Slack's upload flow (``fake_files.py``: files.getUploadURLExternal,
  the bytes, files.completeUploadExternal into a thread; ``files.upload`` is retired).

Each refusal is kept in ``refused`` (the ``slack`` fixture fails a test that leaves one it
did not expect: ``slack.expect_refusals()``). ``auth.test`` names the workspace
(``team``); ``pings`` lists the channel-wide mentions (``@here``, ``@channel``,
``@everyone``) anything the bot sent would make.

    slack.hold("chat.postMessage")          # the next call waits for release()
    slack.release("chat.postMessage")
    slack.lose_response("chat.postMessage") # the next call takes effect, its answer is lost
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tests.adapters.slack import block_kit, fake_files
from tests.adapters.slack.rate_limits import Limit, RateLimits
from tests.support.http_fake import FakeHttpServer, Recorded

BOT_USER = "UBOT0001"
TEAM = "T0TEAM01"  # the workspace the bot is installed in (auth.test's team_id)
OTHER_TEAM = "T0OTHER9"  # another organisation's workspace (a Slack Connect channel's guests)
BLOCK_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
VIEW_METHODS = frozenset({"views.open", "views.update", "views.push"})


@dataclass(frozen=True)
class Refusal:
    """A call the fake refused as Slack would: the method (or response URL), the error, and
    Slack's messages saying why."""

    method: str
    error: str
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def triple(self) -> tuple[int, Any, dict[str, str]]:
        return self.status, self.body, self.headers


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
    for key in ("blocks", "view", "metadata"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(json.JSONDecodeError):  # else refused as Slack does
                args[key] = json.loads(args[key])
    return args


def payload_refusal(method: str, args: dict[str, Any]) -> tuple[str, list[str]] | None:
    """Slack's error for a payload it will not take, and its messages; None when it takes it
    (``block_kit.py`` cites the limits)."""
    if method in VIEW_METHODS:
        problems = block_kit.view_problems(args.get("view"))
        return ("invalid_arguments", problems) if problems else None
    if method not in BLOCK_METHODS:
        return None
    blocks = args.get("blocks")
    text = args.get("text")
    if blocks is not None:
        problems = block_kit.message_problems(blocks)
        if problems:
            return "invalid_blocks", problems
    if not blocks and not (isinstance(text, str) and text.strip()) and not args.get("attachments"):
        return "no_text", []
    if isinstance(text, str) and len(text) > block_kit.MESSAGE_TEXT_MAX:
        return "msg_too_long", []
    return None


def mentions(args: dict[str, Any]) -> list[str]:
    """The channel-wide mentions a message would make: written ones (``<!here>``) anywhere;
    bare words (``@here``) in the top-level text only when the call asks Slack to parse it
    (``link_names``, ``parse=full``: chat.postMessage's reference), and in mrkdwn text objects
    unless they are ``verbatim`` (composition-objects/text-object)."""
    parsed = str(args.get("link_names")).lower() in ("1", "true") or args.get("parse") == "full"
    found = block_kit.special_mentions(args.get("text"), auto_parsed=parsed)
    return found + block_kit.block_mentions(args.get("blocks"))


class FakeSlack:
    def __init__(
        self,
        *,
        team: str = TEAM,
        limits: dict[str, Limit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = FakeHttpServer(keep_alive=True)  # Slack's Web API keeps connections
        self.http.route("POST", r"/api/(?P<method>[\w.]+)", self._api)
        self.http.route("GET", r"/api/(?P<method>[\w.]+)", self._api)
        self.http.route("POST", r"/response/(?P<key>.*)", self._respond)
        self.http.route("POST", r"/upload/v1/(?P<file_id>\w+)", self._upload)
        self.files: fake_files.Files | None = None  # the upload flow (fake_files.py)
        self.team = team
        self.rate_limits = RateLimits(limits, clock)
        self.refused: list[Refusal] = []  # payloads refused as Slack refuses them
        self.pings: list[tuple[str, str]] = []  # (method, "here"/"channel"/"everyone")
        self._expected_refusals = False
        self.usergroups: dict[str, list[str]] = {}
        self.deleted: set[tuple[str, str]] = set()
        self.socket_url: str | None = None
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._log: list[tuple[str, dict[str, Any], bool]] = []
        self.messages: list[dict[str, Any]] = []  # every message posted, oldest first
        self._responses: list[dict[str, Any]] = []
        self._holds: dict[str, threading.Event] = {}
        self._held: dict[str, int] = {}
        self._lost: dict[str, int] = {}

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
        unexpected = self.unexpected_refusals()
        if exc is None and unexpected:
            raise AssertionError(
                "the bot sent Slack what Slack refuses (call slack.expect_refusals() if the "
                f"test means to): {unexpected}"
            )

    @property
    def api_url(self) -> str:
        return f"{self.http.url}/api/"

    def response_url(self, key: str = "r") -> str:
        return f"{self.http.url}/response/{key}"

    def hold(self, method: str) -> None:
        """Make calls of ``method`` wait (before taking effect) until ``release``."""
        with self._lock:
            self._holds[method] = threading.Event()

    def release(self, method: str) -> None:
        with self._lock:
            event = self._holds.pop(method, None)
        if event is not None:
            event.set()

    def held(self, method: str) -> int:
        """How many calls of ``method`` are waiting on a hold now."""
        with self._lock:
            return self._held.get(method, 0)

    def lose_response(self, method: str, times: int = 1) -> None:
        """The next call(s) of ``method`` take effect, then the answer is a 500 (as when
        the connection drops after Slack did the work)."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + times

    def posts(self, channel: str | None = None, *, thread_ts: str | None = None) -> list[dict]:
        """Top-level messages (or the replies in ``thread_ts``), oldest first."""
        with self._lock:
            return [
                m
                for m in self.messages
                if (channel is None or m["channel"] == channel) and m.get("thread_ts") == thread_ts
            ]

    def fail(self, method: str, *failures: Failure) -> None:
        """Answer the next calls of ``method`` (or posts to a response URL: ``response_url``)
        with these failures, in order."""
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
        """What was posted to response URLs (``respond()``) and taken."""
        with self._lock:
            return list(self._responses)

    def expect_refusals(self) -> None:
        """This test sends what Slack refuses on purpose (the ``slack`` fixture then lets it)."""
        self._expected_refusals = True

    def unexpected_refusals(self) -> list[Refusal]:
        with self._lock:
            return [] if self._expected_refusals else list(self.refused)

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
            hold = self._holds.get(method)
            if hold is not None:
                self._held[method] = self._held.get(method, 0) + 1
        if failure is not None:
            return failure.triple
        if hold is not None:
            hold.wait(timeout=30)
            with self._lock:
                self._held[method] -= 1
        args = arguments(request)
        wait = self.rate_limits.check(method, args.get("channel"))
        if wait is not None:
            return rate_limited(wait).triple
        refusal = payload_refusal(method, args)
        if refusal is not None:
            return self._refuse(method, *refusal)
        status, body, headers = self._effect(request, method)
        with self._lock:
            lost = self._lost.get(method, 0)
            if lost:
                self._lost[method] = lost - 1
        if lost:
            return 500, "the answer was lost on the way", {}
        return status, body, headers

    def _refuse(self, method: str, error: str, messages: list[str]) -> tuple[int, Any, dict]:
        with self._lock:
            self.refused.append(Refusal(method, error, tuple(messages)))
        body: dict[str, Any] = {"ok": False, "error": error}
        if messages:
            if error == "invalid_blocks":
                body["errors"] = [m.removeprefix("[ERROR] ") for m in messages]
            body["response_metadata"] = {"messages": messages}
        return 200, body, {}

    def _heard(self, method: str, args: dict[str, Any]) -> None:
        """Note the channel-wide mentions a message the fake took would make."""
        found = mentions(args)
        if found:
            with self._lock:
                self.pings += [(method, m) for m in found]

    def _respond(self, request: Recorded, key: str) -> tuple[int, Any]:
        """A response URL: takes a message (blocks checked as chat.postMessage's); answers
        HTTP 400 ``invalid_blocks`` otherwise (slackapi/java-slack-sdk#1017)."""
        with self._lock:
            queue = self._failures.get("response_url")
            failure = queue.pop(0) if queue else None
        if failure is not None:  # slack.fail("response_url", ...)
            return failure.status, failure.body
        args = request.json()
        refusal = payload_refusal("chat.postMessage", args)
        if refusal is not None:
            self._refuse(f"response_url {key}", *refusal)
            return 400, refusal[0]
        self._heard(f"response_url {key}", args)
        with self._lock:
            self._responses.append(args)
        return 200, "ok"

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        message = {
            "type": "message",
            "channel": args["channel"],
            "ts": ts,
            "text": args.get("text"),
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts"),
            "bot_id": "B0BOT001",
            "metadata": args.get("metadata"),
        }
        with self._lock:
            self.messages.append(message)
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": {"ts": ts}}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update: only a message the fake posted and nobody deleted."""
        where = (args.get("channel"), args.get("ts"))
        with self._lock:
            found = next((m for m in self.messages if (m["channel"], m["ts"]) == where), None)
            if found is None or where in self.deleted:
                return {"ok": False, "error": "message_not_found"}
            found["text"] = args.get("text")
            found["blocks"] = args.get("blocks")
        return {"ok": True, "channel": where[0], "ts": where[1], "text": args.get("text")}

    def _effect(self, request: Recorded, method: str) -> tuple[int, Any, dict[str, str]]:
        args = arguments(request)
        ok: dict[str, Any] = {"ok": True}
        if method in BLOCK_METHODS:
            self._heard(method, args)
        if method == "auth.test":
            body = {
                **ok,
                "url": "https://acme.slack.com/",
                "team": "Acme",
                "team_id": self.team,
                "user_id": BOT_USER,
                "bot_id": "B0BOT001",
            }
        elif method == "chat.postMessage":
            body = self._post(args)
        elif method == "conversations.history":
            body = self._history(args)
        elif method == "conversations.replies":
            body = self._replies(args)
        elif method == "chat.update":
            body = self._update(args)
        elif method == "chat.postEphemeral":
            body = {**ok, "message_ts": f"1700000001.{next(self._ts):06d}"}
        elif method == "views.open":
            body = {**ok, "view": {"id": "V0MODAL1", **(args.get("view") or {})}}
        elif method == "usergroups.users.list":
            body = {**ok, "users": self.usergroups.get(args.get("usergroup", ""), [])}
        elif method == "apps.connections.open":
            body = {**ok, "url": self.socket_url}
        elif method == "files.getUploadURLExternal":
            with self._lock:
                body = self._files().get_upload_url(args)
        elif method == "files.completeUploadExternal":
            body = self._complete(args)
        elif method == "files.upload":  # retired (docs.slack.dev: use the two methods above)
            body = {"ok": False, "error": "method_deprecated"}
        else:
            body = {"ok": False, "error": "unknown_method"}
        return 200, body, {}

    def _files(self) -> fake_files.Files:
        if self.files is None:
            self.files = fake_files.Files(self.http.url)
        return self.files

    def _upload(self, request: Recorded, file_id: str) -> tuple[int, str]:
        with self._lock:
            return self._files().receive(file_id, request.body or b"")

    def _complete(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            top = {(m["channel"], m["ts"]) for m in self.messages if not m.get("thread_ts")}
            body, message = self._files().complete(args, top)
            if message is not None:
                message["ts"] = f"1700000000.{next(self._ts):06d}"
                self.messages.append(message)
        return body

    def uploaded(self, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The files shared (in ``thread_ts``'s thread), in order, with their bytes."""
        with self._lock:
            found = [
                f
                for m in self.messages
                if m.get("files") and (thread_ts is None or m.get("thread_ts") == thread_ts)
                for f in m["files"]
            ]
            uploads = self._files().uploads
            return [{**f, "data": uploads[f["id"]].data} for f in found]

    @staticmethod
    def _shown(message: dict[str, Any], with_metadata: bool) -> dict[str, Any]:
        out = {k: v for k, v in message.items() if v is not None and k != "channel"}
        if not with_metadata:
            out.pop("metadata", None)
        return out

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first, after ``oldest``, paged."""
        oldest = float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata")).lower() in ("true", "1")
        with self._lock:
            found = [
                m
                for m in reversed(self.messages)
                if m["channel"] == args.get("channel")
                and not m.get("thread_ts")
                and float(m["ts"]) > oldest
            ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return {
            "ok": True,
            "messages": [self._shown(m, with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent, then its replies, oldest first."""
        ts = args.get("ts")
        with_metadata = str(args.get("include_all_metadata")).lower() in ("true", "1")
        with self._lock:
            thread = [
                m
                for m in self.messages
                if m["channel"] == args.get("channel") and ts in (m["ts"], m.get("thread_ts"))
            ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": [self._shown(m, with_metadata) for m in thread]}
