"""Every statement of a submission, a vote and a delivery is compiled once per process and
then taken from SQLAlchemy's statement cache: compiling an INSERT costs about as much as
running it, and these run for every request. They are also built once (prebuilt, see
``bot/adapters/db/engine.py``): building one and computing its cache key cost more than
running it on SQLite."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.registry import identity_kinds
from bot.domain.effects import CHAT_POST, CHAT_UPDATE
from bot.domain.model import VoteKind
from bot.service import build_services
from bot.service.clock import SystemClock
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher
from tests import builders
from tests.fakes import NotedHandler


def test_submissions_and_votes_run_cached_statements(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    svc = build_services(
        SqlUnitOfWorkFactory(engine), channels=("console",), identities=identity_kinds()
    )
    svc.admin.apply(builders.directory())
    uncached: list[str] = []
    executed: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if context is None or context.compiled is None:
            return  # SQL given as a string (BEGIN IMMEDIATE): nothing to compile
        executed.append(statement)
        if context.cache_hit != CacheStats.CACHE_HIT:
            uncached.append(f"{context.cache_hit}: {statement.split(chr(10))[0][:80]}")

    def one_round(n: int) -> None:
        rid = svc.commands.submit(
            builders.submission(model_name=f"cache-{n}", staging_run_id=f"s{n}")
        ).request.id
        svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
        svc.queries.message(rid, "console")

    try:
        one_round(0)  # compiles
        event.listen(engine, "after_cursor_execute", note)
        one_round(1)
        one_round(2)
    finally:
        engine.dispose()
    assert uncached == []
    # ...and the cached statements still skip what is there already.
    inserts = [
        s
        for s in executed
        if s.replace('"', "").startswith(("INSERT INTO approval_requests", "INSERT INTO outbox"))
    ]
    assert inserts and all("ON CONFLICT DO NOTHING" in s for s in inserts)


def test_submissions_votes_and_deliveries_reuse_prebuilt_statements(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    svc = build_services(
        SqlUnitOfWorkFactory(engine), channels=("console",), identities=identity_kinds()
    )
    svc.admin.apply(builders.directory())
    handlers = {CHAT_POST: NotedHandler(), CHAT_UPDATE: NotedHandler()}
    dispatcher = OutboxDispatcher(svc.uow, handlers, clock=SystemClock())
    for n in range(3):  # a pending version 3 of each model, for the rounds to supersede
        svc.commands.submit(builders.submission(model_name=f"built-{n}"))
    asyncio.run(dispatcher.deliver_due())
    seen: list[list[Any]] = []

    def note(conn: Any, statement: Any, *args: Any) -> None:
        if not isinstance(statement, str):
            seen[-1].append(statement)

    def one_round(n: int) -> None:
        seen.append([])
        submission = builders.submission(model_name=f"built-{n}", model_version="4")
        rid = svc.commands.submit(submission).request.id  # supersedes the pending version 3
        asyncio.run(dispatcher.deliver_due())
        svc.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
        svc.queries.message(rid, "console")
        asyncio.run(dispatcher.deliver_due())

    event.listen(engine, "before_execute", note)
    try:
        for n in range(3):
            one_round(n)
    finally:
        engine.dispose()
    first, *later = seen
    assert len(first) >= 20  # the submission, the vote, the view, the claims, the outcomes
    for statements in later:
        built_again = [str(s).split("\n")[0] for s in statements if not any(s is f for f in first)]
        assert built_again == []
