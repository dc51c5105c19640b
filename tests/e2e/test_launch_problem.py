"""A promotion launch that fails for good shows on the request in the CLI and the console:
"promotion could not start: <reason> — retry with `approval-bot outbox retry N`"."""

from __future__ import annotations

import asyncio

import httpx

from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.model import VoteKind
from bot.ports.effects import PermanentEffectError
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher, RetryPolicy
from tests import builders
from tests.e2e.cli import Cli
from tests.fakes import NotedHandler
from tests.support.bot_server import prepare_database, running_bot, service_for


class NoPipeline:
    async def deliver(self, item, request) -> str | None:
        raise PermanentEffectError("pipeline 'promotion' not found on KFP_HOST")


def failed_launch(db_url: str) -> tuple[str, int]:
    """An approved request whose launch died; (its id, the launch's outbox id)."""
    with service_for(db_url) as svc:
        rid = svc.commands.submit(builders.submission()).request.id
        for who in ("bob", "carol"):
            svc.commands.vote(rid, Identity("cli", who), VoteKind.APPROVE)
        dispatcher = OutboxDispatcher(
            svc.uow,
            {"*": NotedHandler(), LAUNCH_PROMOTION: NoPipeline()},
            clock=svc.clock,
            retry=RetryPolicy(max_attempts=1),
        )
        asyncio.run(dispatcher.deliver_due())
        effects = svc.queries.effects([svc.queries.get(rid)])[rid]
        launch = next(i for i in effects if i.kind == LAUNCH_PROMOTION)
    return rid, launch.id


def test_cli_show_and_the_console_say_the_promotion_could_not_start(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    rid, launch_id = failed_launch(db_url)
    expected = (
        "promotion could not start: pipeline 'promotion' not found on KFP_HOST — "
        f"retry with `approval-bot outbox retry {launch_id}`"
    )
    assert expected in Cli(db_url, tmp_path).ok("show", rid)
    with running_bot(db_url, tmp_path) as bot:
        page = httpx.get(f"{bot.url}/requests/{rid}", timeout=30)
    assert page.status_code == 200
    assert "promotion could not start: pipeline &#39;promotion&#39; not found" in page.text
    assert f"approval-bot outbox retry {launch_id}" in page.text
