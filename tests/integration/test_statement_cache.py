"""Every statement of a submission, a vote and a delivery is compiled once per process and
then taken from SQLAlchemy's statement cache: compiling an INSERT costs about as much as
running it, and these run for every request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.domain.model import VoteKind
from bot.service import build_services
from bot.service.identity import Identity
from tests import builders


def test_submissions_and_votes_run_cached_statements(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    svc = build_services(SqlUnitOfWorkFactory(engine), channels=("console",))
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
        s for s in executed if s.startswith(("INSERT INTO approval_requests", "INSERT INTO outbox"))
    ]
    assert inserts and all("ON CONFLICT DO NOTHING" in s for s in inserts)
