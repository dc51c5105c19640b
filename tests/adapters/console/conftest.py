"""The console over the real service on SQLite, through the real ASGI routes (in process).

``Browser`` is a TestClient that keeps cookies like a browser and connects from a chosen
peer address (the console trusts nothing but the peer address of the connection).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.adapters.console.channel import gatekeeper
from bot.adapters.console.pages import RunLinks
from bot.adapters.console.routes import Console, mount
from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import upgrade
from bot.adapters.registry import identity_kinds
from bot.service import Services, build_services
from tests import builders
from tests.builders import parse_config

ROOT = Path(__file__).resolve().parents[3]
LOCAL = "you@localhost"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def example_directory():
    return parse_config(yaml.safe_load((ROOT / "examples" / "config.yaml").read_text()))


@pytest.fixture
def svc(sqlite_url: str) -> Iterator[Services]:
    """The example config (with the local person `you`); chat messages go to Slack and
    Telegram, so a console vote must update both."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    services = build_services(
        SqlUnitOfWorkFactory(engine), channels=("slack", "telegram"), identities=identity_kinds()
    )
    services.admin.apply(example_directory())
    try:
        yield services
    finally:
        engine.dispose()


class Kicks:
    """Counts the commits that ask for delivery at once (``Recorder.on_commit``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _lanes: frozenset[str]) -> None:
        self.count += 1


def console_settings(**settings: Any) -> ConsoleSettings:
    """``console_…`` settings as the console's own."""
    return ConsoleSettings(**{k.removeprefix("console_"): v for k, v in settings.items()})


def console_app(svc: Services, **settings: Any) -> tuple[FastAPI, Kicks]:
    values = {"console_local_email": LOCAL, **settings}
    kicks = Kicks()
    svc.recorder.on_commit = kicks
    app = FastAPI()
    mount(
        app,
        Console(
            services=svc,
            gatekeeper=gatekeeper(console_settings(**values)),
            public_url="http://127.0.0.1:8080",
            links=RunLinks(kfp_ui="https://kfp.example.com", local_root="/srv/var/kfp-local"),
        ),
    )
    return app, kicks


def browser(app: FastAPI, peer: str = "127.0.0.1", host: str = "127.0.0.1:8080") -> TestClient:
    return TestClient(
        app,
        base_url=f"http://{host}",
        client=(peer, 50123),
        follow_redirects=False,
    )


def submit(svc: Services, **fields: Any) -> str:
    fields.setdefault("model_name", "churn-classifier")
    fields.setdefault("staging_run_id", f"stg-{len(svc.queries.search(_all()))}")
    return svc.commands.submit(builders.submission(**fields)).request.id


def _all():
    from bot.ports.store import RequestFilter

    return RequestFilter()


def token(page_html: str) -> str:
    found = CSRF.search(page_html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def vote(client: TestClient, rid: str, vote: str, **form: str) -> Any:
    """Open the request page like a person, then send its form."""
    page = client.get(f"/requests/{rid}")
    assert page.status_code == 200, page.text
    data = {"csrf": token(page.text), "vote": vote, **form}
    return client.post(
        f"/requests/{rid}/vote", data=data, headers={"Origin": str(client.base_url).rstrip("/")}
    )
