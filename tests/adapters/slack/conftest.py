"""The real app, served by uvicorn on 127.0.0.1, wired to a fake Slack Web API.

Requests are signed with the real algorithm (``v0=`` HMAC-SHA256 of
``v0:{timestamp}:{body}``), so Bolt's own verification runs on every one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db.migrate import upgrade
from bot.adapters.plugin import ChannelSettings
from bot.adapters.slack.ids import COMMAND, Action, Block
from bot.adapters.slack.settings import SlackSettings
from bot.bootstrap import Container, build
from bot.entrypoints.server import build_app
from bot.settings import Settings
from tests.adapters.slack.fake_slack import TEAM, FakeSlack
from tests.builders import directory, submission
from tests.fakes import FakeClock
from tests.support.processes import free_port, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0APPROVALS"
ALICE, BOB, CAROL, DAVE, STRANGER = "U01ALICE", "U02BOB", "U03CAROL", "U04DAVE", "U09NOBODY"
DEADLINE = 10.0  # seconds to wait for anything the bot does in the background


def sign(body: str, timestamp: int, secret: str = SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Setup:
    """The core's settings and each channel's, as a test configures them."""

    core: Settings
    channels: dict[str, ChannelSettings]

    def build(self, **kw: Any) -> Container:
        return build(self.core, channels=self.channels, **kw)

    @property
    def slack(self) -> SlackSettings:
        found = self.channels["slack"]
        assert isinstance(found, SlackSettings)
        return found


def split(extra: dict[str, Any], kind: type[ChannelSettings], prefix: str) -> list[dict[str, Any]]:
    """``extra`` settings by the class they belong to: the channel's (``prefix``ed, or named as
    its fields are), then the core's."""
    mine: dict[str, Any] = {}
    core: dict[str, Any] = {}
    for key, value in extra.items():
        name = key.removeprefix(prefix)
        (mine if name in kind.model_fields else core)[
            name if name in kind.model_fields else key
        ] = value
    return [mine, core]


def core_settings(db_url: str, **extra: Any) -> Settings:
    fields: dict[str, Any] = {
        "database_url": db_url,
        "mlflow_tracking_uri": None,
        "webhook_url": None,
        "launcher": "none",
        "outbox_base_seconds": 0.05,
        "outbox_cap_seconds": 0.2,
        "sweep_seconds": 0.2,
        **extra,
    }
    return Settings(**fields)


def slack_settings(db_url: str, slack: FakeSlack, **extra: Any) -> Setup:
    mine, core = split(extra, SlackSettings, "slack_")
    fields: dict[str, Any] = {
        "bot_token": "xoxb-test-token",
        "signing_secret": SECRET,
        "app_token": None,
        "channel": CHANNEL,
        "api_url": slack.api_url,
        **mine,
    }
    channel = SlackSettings(**fields)
    return Setup(core_settings(db_url, **core), {"slack": channel, "console": ConsoleSettings()})


@contextmanager
def serving(container: Container) -> Iterator[str]:
    """Run the ASGI app (with its lifespan) under uvicorn in a thread; yield its URL."""
    port = free_port()
    config = uvicorn.Config(
        build_app(container), host="127.0.0.1", port=port, lifespan="on", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(
        lambda: server.started,
        timeout=DEADLINE,
        description="uvicorn to start",
        abort=lambda: None if thread.is_alive() else "the server thread exited",
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE)


def eventually(condition: Callable[[], Any], description: str) -> None:
    wait_for(lambda: bool(condition()), timeout=DEADLINE, description=description, interval=0.02)


@dataclass
class SlackBot:
    """The running bot and what a Slack workspace would send it."""

    container: Container
    url: str
    slack: FakeSlack
    http: httpx.Client

    # -- requests --------------------------------------------------------------

    def submit(self, **fields: Any) -> str:
        result = self.container.services.commands.submit(submission(**fields))
        self.container.kick()
        return result.request.id

    def message(self, request_id: str) -> dict[str, Any]:
        """The Slack message of a request, once the outbox has posted it."""
        eventually(
            lambda: self.container.services.chat.ref(request_id, "slack"),
            f"the message of request {request_id} to be posted",
        )
        ref = self.container.services.chat.ref(request_id, "slack")
        assert ref is not None
        return ref

    def updates(self, ref: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c
            for c in self.slack.calls("chat.update")
            if c["channel"] == ref["channel"] and c["ts"] == ref["ts"]
        ]

    def wait_update(self, ref: dict[str, Any], matches: Callable[[str], bool], what: str) -> str:
        """Wait for a chat.update of ``ref`` whose blocks (as JSON) match; return them."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [json.dumps(c["blocks"]) for c in self.updates(ref)]
            return any(matches(b) for b in found)

        eventually(seen, what)
        return next(b for b in found if matches(b))

    # -- what Slack sends ----------------------------------------------------------

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = int(time.time()) if timestamp is None else timestamp
        return self.http.post(
            f"{self.url}/slack/events",
            content=body.encode(),
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(ts),
                "X-Slack-Signature": sign(body, ts, secret),
                **(headers or {}),
            },
        )

    def post_payload(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kw)

    def click(
        self, action: Action, request_id: str, user: str, *, team: str | None = None, **kw: Any
    ) -> httpx.Response:
        """``user`` clicks; ``team``: the workspace the payload names (the bot's by default)."""
        payload = block_actions(self, action, request_id, user)
        if team is not None:
            payload["team"]["id"] = payload["user"]["team_id"] = team
        return self.post_payload(payload, **kw)

    def submit_modal(
        self, view: dict[str, Any], user: str, reason: str, *, team: str = TEAM
    ) -> httpx.Response:
        return self.post_payload(view_submission(view, user, reason, team=team))

    def command(self, text: str, user: str, *, team: str = TEAM) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": team,
            "team_domain": "acme",
            "channel_id": CHANNEL,
            "channel_name": "approvals",
            "user_id": user,
            "user_name": user.lower(),
            "command": COMMAND,
            "text": text,
            "api_app_id": "A0APP001",
            "response_url": self.slack.response_url(f"command-{user}"),
            "trigger_id": "1.2.cmd",
        }
        return self.post(urlencode(form))


def block_actions(bot: SlackBot, action: Action, request_id: str, user: str) -> dict[str, Any]:
    ref = bot.container.services.chat.ref(request_id, "slack") or {"channel": CHANNEL, "ts": "1.0"}
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0APP001",
        "token": "legacy",
        "trigger_id": f"trigger-{user}-{action.value}",
        "container": {
            "type": "message",
            "message_ts": ref["ts"],
            "channel_id": ref["channel"],
            "is_ephemeral": False,
        },
        "channel": {"id": ref["channel"], "name": "approvals"},
        "message": {"type": "message", "ts": ref["ts"], "text": "request"},
        "response_url": bot.slack.response_url(f"action-{user}"),
        "actions": [
            {
                "type": "button",
                "action_id": action.value,
                "block_id": Block.ACTIONS.value,
                "value": request_id,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    view: dict[str, Any], user: str, reason: str, *, team: str = TEAM
) -> dict[str, Any]:
    """What Slack sends when ``user`` submits the modal the bot opened, with ``reason`` typed."""
    state = {
        "values": {
            Block.REASON.value: {
                Block.REASON_INPUT.value: {"type": "plain_text_input", "value": reason}
            }
        }
    }
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0APP001",
        "token": "legacy",
        "trigger_id": f"trigger-{user}-submit",
        "view": {**view, "id": "V0MODAL1", "team_id": TEAM, "state": state},
    }


@contextmanager
def running_bot(
    db_url: str, slack: FakeSlack, *, clock: FakeClock | None = None, **settings: Any
) -> Iterator[SlackBot]:
    """The bot serving on a free port; with ``clock``, the service's time is the test's."""
    upgrade(db_url)
    # The clock is given before the scheduler starts: a scan never sees two different clocks.
    container = slack_settings(db_url, slack, **settings).build(clock=clock)
    container.services.admin.apply(directory())
    try:
        with serving(container) as url, httpx.Client(timeout=DEADLINE) as http:
            yield SlackBot(container, url, slack, http)
    finally:
        container.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def bot(sqlite_url: str, slack: FakeSlack) -> Iterator[SlackBot]:
    with running_bot(sqlite_url, slack) as running:
        yield running
