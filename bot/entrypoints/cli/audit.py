"""``audit``: who approved what, when and why; ``audit verify`` checks the hash chain."""

from __future__ import annotations

from datetime import datetime

import click

from bot.domain.model import DECISION_FILTERS, State
from bot.entrypoints import render
from bot.entrypoints.cli.common import CliError, container, emit_json, handle_errors, parse_when
from bot.ports import RequestFilter
from bot.service.views import request_to_dict


@click.group(invoke_without_command=True)
@click.option("--model", default=None)
@click.option("--since", callback=parse_when, default=None, help="Created at or after (ISO).")
@click.option("--until", callback=parse_when, default=None, help="Created before (ISO).")
@click.option("--decision", type=click.Choice([s.value for s in DECISION_FILTERS]), default=None)
@click.option("--approver", default=None, help="A person who voted on it.")
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
    fmt: str,
) -> None:
    """Who approved what, when and why. `audit verify` checks the hash chain."""
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
    requests = queries.search(flt)
    if fmt == "json":
        history = queries.history(requests)
        emit_json([request_to_dict(r, history=history[r.id]) for r in requests])
    elif fmt == "csv":
        click.echo(render.to_csv(render.AUDIT_HEADERS, render.audit_rows(requests)), nl=False)
    elif requests:
        click.echo(render.table(render.AUDIT_HEADERS, render.audit_rows(requests)))
    else:
        click.echo("no matching requests")


@audit.command("verify")
@handle_errors
def audit_verify() -> None:
    """Check the audit log's hash chain; exit 1 naming the first bad event."""
    count, problem = container().services.admin.verify_audit()
    if problem is not None:
        raise CliError(f"audit log tampered: {problem}")
    click.echo(f"audit log intact: {count} events")
