"""The veto window on the console's request page (README.md, "Rules"): when the request
promotes, in the words every channel uses, an Approve now button, and the policy's decision."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import upgrade
from bot.adapters.registry import identity_kinds
from bot.service import Services, build_services
from tests import builders
from tests.adapters.console.conftest import browser, console_app, submit
from tests.builders import parse_config
from tests.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-01-05 09:00 UTC


@pytest.fixture
def svc(sqlite_url: str, clock: FakeClock) -> Iterator[Services]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    services = build_services(
        SqlUnitOfWorkFactory(engine), clock=clock, channels=(), identities=identity_kinds()
    )
    config = builders.config_dict(policies=builders.policy_patch(auto_approve_after="30m"))
    config["people"]["you"] = {"email": "you@localhost"}
    config["groups"]["ml-leads"].append("you")
    services.admin.apply(parse_config(config))
    try:
        yield services
    finally:
        engine.dispose()


def test_the_request_page_says_when_it_promotes_and_then_the_policys_decision(svc, clock):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    page = browser(app).get(f"/requests/{rid}").text
    assert (
        '<p id="veto-window">⏱️ Promotes at 2026-01-05 09:30 UTC unless rejected: the veto '
        "window of policy *. Approve now counts as a vote toward the quorum.</p>"
    ) in page
    assert '<button type="submit" class="approve" id="approve">Approve now</button>' in page
    assert '<button type="submit" class="reject" id="reject">Reject</button>' in page

    clock.advance(minutes=30)
    assert svc.commands.scan_due().auto_approved == [rid]
    decided = browser(app).get(f"/requests/{rid}").text
    assert 'id="veto-window"' not in decided
    assert "by system:auto at 2026-01-05 09:30:00 UTC: policy &#39;*&#39;: no rejection" in decided
