"""``outbox``: effects of decisions, their delivery state, retries, delivery without a server."""

from __future__ import annotations

import asyncio

import click

from bot.domain.names import Channel, OutboxState
from bot.entrypoints import render
from bot.entrypoints.cli.common import (
    FORMAT,
    CliError,
    SuggestingGroup,
    container,
    emit_json,
    handle_errors,
)
from bot.service.views import outbox_item_to_dict

MAX_ID = 2**63 - 1  # outbox ids are 64-bit


@click.group(cls=SuggestingGroup)
def outbox() -> None:
    """Effects of decisions: list, retry dead letters, deliver without a server."""


@outbox.command("list")
@click.option("--state", type=click.Choice([s.value for s in OutboxState]), default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@FORMAT
@handle_errors
def outbox_list(state: str | None, limit: int, fmt: str) -> None:
    """Effects and their delivery state."""
    queries = container().services.queries
    items = queries.outbox_items(OutboxState(state) if state else None, limit)
    if fmt == "json":
        emit_json([outbox_item_to_dict(i) for i in items])
        return
    if not items:
        click.echo("no effects" + (f" in state {state}" if state else ""))
        return
    rows = [
        [
            i.id,
            i.kind,
            i.request_id,
            i.state.value,
            i.attempts,
            render.ts(i.next_attempt_at),
            (i.last_error or "")[:60],
        ]
        for i in items
    ]
    headers = ("id", "kind", "request", "state", "attempts", "next attempt", "last error")
    click.echo(render.table(headers, rows))


@outbox.command("retry")
@click.argument("item_id", type=click.IntRange(1, MAX_ID))
@handle_errors
def outbox_retry(item_id: int) -> None:
    """Put a dead-lettered (or waiting) effect back in the queue (attempts reset)."""
    if not container().dispatcher.retry_item(item_id, actor=Channel.CLI):
        raise CliError(f"no dead, waiting or pending outbox item {item_id}")
    click.echo(f"outbox item {item_id} queued; a running server delivers it within seconds")


@outbox.command("deliver")
@handle_errors
def outbox_deliver() -> None:
    """Deliver the effects that are due now, without a server."""
    dispatcher = container(adapters=True).dispatcher
    dispatcher.release_waiting()
    report = asyncio.run(dispatcher.deliver_due())
    click.echo(
        f"{len(report.delivered)} delivered, {len(report.retrying)} to retry, "
        f"{len(report.dead)} dead-lettered, {len(report.waiting)} waiting"
    )
