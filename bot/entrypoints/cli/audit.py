"""``audit``: who approved what, when and why; ``audit verify`` checks the hash chain."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import datetime

import click

from bot.domain.model import DECISION_FILTERS, ApprovalRequest, State
from bot.entrypoints import render
from bot.entrypoints.cli.common import (
    CliError,
    SuggestingGroup,
    container,
    handle_errors,
    parse_when,
)
from bot.ports.store import RequestFilter
from bot.service.audit import signing_note
from bot.service.queries import Queries
from bot.service.views import request_to_dict

TABLE_ROWS = 50  # a table is for reading: the first rows; csv and json give them all
PAGE = 50  # requests read (with their history) per query: the first lines show at once


@click.group(cls=SuggestingGroup, invoke_without_command=True)
@click.option("--model", default=None)
@click.option("--since", callback=parse_when, default=None, help="Created at or after (ISO).")
@click.option("--until", callback=parse_when, default=None, help="Created before (ISO).")
@click.option("--decision", type=click.Choice([s.value for s in DECISION_FILTERS]), default=None)
@click.option("--approver", default=None, help="A person who voted on it.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help=f"At most this many requests (default: all for csv/json, {TABLE_ROWS} for the table).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.pass_context
@handle_errors
def audit(
    ctx: click.Context,
    model: str | None,
    since: datetime | None,
    until: datetime | None,
    decision: str | None,
    approver: str | None,
    limit: int | None,
    fmt: str,
) -> None:
    """Who approved what, when and why, oldest first. `audit verify` checks the hash chain.

    Requests are read a page at a time and written as they come, so the first lines show
    at once and memory stays flat over any history.
    """
    if ctx.invoked_subcommand is not None:
        return
    queries = container().services.queries
    flt = RequestFilter(
        model=model,
        since=since,
        until=until,
        approver=approver,
        decision=State(decision) if decision else None,
    )
    if fmt == "table":
        rows = limit or TABLE_ROWS
        write_table(capped(queries.pages(flt, PAGE), rows), rows)
    elif fmt == "json":
        write_json(queries, capped(queries.pages(flt, PAGE), limit))
    else:
        click.echo(render.to_csv(render.AUDIT_HEADERS, []), nl=False)
        for page in capped(queries.pages(flt, PAGE), limit):
            click.echo(render.to_csv(None, render.audit_rows(page)), nl=False)


def capped(
    pages: Iterator[list[ApprovalRequest]], limit: int | None
) -> Iterator[list[ApprovalRequest]]:
    """The pages, cut after ``limit`` requests in all."""
    left = limit
    for page in pages:
        if left is not None:
            page = page[:left]
            left -= len(page)
        if page:
            yield page
        if left == 0:
            return


def write_json(queries: Queries, pages: Iterator[list[ApprovalRequest]]) -> None:
    """One JSON array (as ``json.dumps(…, indent=2)`` writes it), written page by page."""
    first = True
    for page in pages:
        history = queries.history(page)
        for r in page:
            item = json.dumps(request_to_dict(r, history=history[r.id]), indent=2)
            click.echo(("[\n" if first else ",\n") + textwrap.indent(item, "  "), nl=False)
            first = False
    click.echo("[]" if first else "\n]")


def write_table(pages: Iterator[list[ApprovalRequest]], limit: int) -> None:
    rows = [row for page in pages for row in render.audit_rows(page)]
    if not rows:
        click.echo("no matching requests")
        return
    click.echo(render.table(render.AUDIT_HEADERS, rows))
    if len(rows) == limit:
        click.echo(
            f"(the first {limit}: narrow with --since/--model, raise --limit, "
            "or use --format csv|json for all)",
            err=True,
        )


@audit.command("verify")
@handle_errors
def audit_verify() -> None:
    """Walk the whole audit log: its hash chain and, with APPROVAL_BOT_AUDIT_KEY (or
    _VERIFY_KEYS), its signatures; exit 1 naming the first bad event (docs/audit-log.md).
    The result is kept: the console's Audit page shows it."""
    check = container().services.audit.verify()
    if check.problem is not None:
        raise CliError(f"audit log tampered: {check.problem}")
    click.echo(f"audit log intact: {check.last.seq} events")
    click.echo(signing_note(check))
