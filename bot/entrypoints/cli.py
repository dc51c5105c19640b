"""`approval-bot` command line (also `python -m bot`).

Errors go to stderr as one line (config errors: one line per bad field) with a
non-zero exit; nothing is written when a command fails.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot import bootstrap
from bot.domain.errors import DomainError
from bot.domain.model import VoteKind
from bot.entrypoints import render
from bot.ports import RequestFilter
from bot.service.approvals import Identity
from bot.service.config import parse_config
from bot.service.schemas import SubmissionIn, field_errors
from bot.service.views import request_to_dict
from bot.settings import load_settings

F = TypeVar("F", bound=Callable[..., Any])
FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


class CliError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def handle_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise CliError(exc.message) from None
        except OperationalError as exc:
            url = make_url(load_settings().database_url).render_as_string(hide_password=True)
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise CliError(f"cannot use the database {url}: {reason}") from None

    return wrapper  # type: ignore[return-value]


def container(*, adapters: bool = False) -> bootstrap.Container:
    """The wired process for one command; adapters only for commands that deliver."""
    ctx = click.get_current_context()
    obj = ctx.find_object(dict)
    assert obj is not None
    if "container" not in obj:
        obj["container"] = bootstrap.build(load_settings(), adapters=adapters)
        ctx.call_on_close(obj["container"].close)
    return obj["container"]  # type: ignore[no-any-return]


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def parse_when(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+00:00]"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """approval-bot: the human approval gate between staging and promotion."""
    ctx.ensure_object(dict)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@handle_errors
def serve(host: str, port: int) -> None:
    """Run the bot: HTTP API, channels, scheduler (stops cleanly on SIGTERM)."""
    from bot.entrypoints import logs
    from bot.entrypoints.server import serve as run_server

    settings = load_settings()
    logs.configure(fmt=settings.log_format, level=settings.log_level, secrets=settings.secrets())
    c = bootstrap.build(settings)
    try:
        if settings.config_file:
            changes = c.service.apply(load_config(settings.config_file), actor="serve")
            c.log.info(
                "applied %s: %s",
                settings.config_file,
                f"{len(changes)} change(s)" if changes else "no changes",
            )
        run_server(c, host=host, port=port)
    finally:
        c.close()


@cli.command()
@handle_errors
def migrate() -> None:
    """Create or upgrade the database schema to the latest migration."""
    from bot.adapters.db.migrate import upgrade

    settings = load_settings()
    rev = upgrade(settings.database_url)
    click.echo(f"database at migration head {rev}")


@cli.command()
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Declarative YAML: people, groups, policies.",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the changes; apply nothing.")
@handle_errors
def apply(path: str, dry_run: bool) -> None:
    """Make people, groups and policies match a YAML file (idempotent, all or nothing)."""
    directory = load_config(path)
    svc = container().service
    if dry_run:
        from bot.service.config import diff_directories

        changes = diff_directories(svc.directory(), directory)
    else:
        changes = svc.apply(directory)
    if not changes:
        click.echo("no changes")
        return
    for line in changes:
        click.echo(line)
    click.echo(f"{len(changes)} change(s) {'would be ' if dry_run else ''}applied")


def load_config(path: str) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CliError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return parse_config(raw)
    except DomainError as exc:
        lines = exc.message.splitlines()
        for line in lines[1:]:
            click.echo(f"error: {path}: {line}", err=True)
        raise CliError(f"{path}: {lines[0]}") from None


@cli.group()
def token() -> None:
    """API tokens for the pipelines (stored hashed)."""


@token.command("create")
@click.argument("name")
@handle_errors
def token_create(name: str) -> None:
    """Create a token and print it once."""
    value = container().service.create_token(name)
    click.echo(value)
    click.echo(f"token {name!r} created; it is shown only now", err=True)


@cli.command()
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Submission JSON (DESIGN §4), or - for stdin.",
)
@FORMAT
@handle_errors
def submit(path: str, fmt: str) -> None:
    """Submit a challenger for approval (what the staging pipeline's notify step does)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        raw = json.loads(text)
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    try:
        body = SubmissionIn.model_validate(raw)
    except ValidationError as exc:
        errs = field_errors(exc)
        raise CliError(f"{path}: " + "; ".join(errs)) from None
    c = container()
    result = c.service.submit(body)
    r = result.request
    if fmt == "json":
        emit_json({**request_to_dict(r), "created": result.created})
        return
    if not result.created:
        click.echo(f"already submitted as {r.id} ({r.state.value})")
        return
    click.echo(
        f"submitted {r.id}: {r.model_name} v{r.model_version}, deadline {render.ts(r.deadline_at)}"
    )
    for old in result.superseded:
        click.echo(f"superseded {old}")


@cli.command()
@FORMAT
@handle_errors
def pending(fmt: str) -> None:
    """Requests waiting for a decision."""
    requests = container().service.pending()
    if fmt == "json":
        emit_json([request_to_dict(r) for r in requests])
        return
    if not requests:
        click.echo("no pending requests")
        return
    click.echo(
        render.table(
            ("id", "model", "version", "requested_by", "deadline", "votes", "gates"),
            render.pending_rows(requests),
        )
    )


@cli.command()
@click.argument("request_id")
@FORMAT
@handle_errors
def show(request_id: str, fmt: str) -> None:
    """One request: gates, rules, votes, decision and history."""
    svc = container().service
    request, policy = svc.get_with_policy(request_id)
    history = svc.history([request])[request.id]
    if fmt == "json":
        emit_json(request_to_dict(request, policy, history))
    else:
        click.echo(render.show(request, policy, history))


def _vote(request_id: str, person: str, vote: VoteKind, comment: str | None) -> None:
    svc = container().service
    result = svc.vote(
        request_id, Identity("cli", person), vote, comment=comment, record_denial=False
    )
    r = result.request
    click.echo(f"{person} {vote.value}d {r.id} ({r.model_name} v{r.model_version})")
    if result.decided:
        click.echo(f"request {r.id} is now {r.state.value}")
    else:
        missing = ", ".join(f"{n} more from {g}" for g, n in r.missing_groups(result.policy))
        click.echo(f"still pending: needs {missing}")


@cli.command()
@click.argument("request_id")
@click.option("--as", "person", required=True, help="The configured person who approves.")
@click.option("--comment", default=None)
@handle_errors
def approve(request_id: str, person: str, comment: str | None) -> None:
    """Approve a request as PERSON."""
    _vote(request_id, person, VoteKind.APPROVE, comment)


@cli.command()
@click.argument("request_id")
@click.option("--as", "person", required=True, help="The configured person who rejects.")
@click.option("--reason", default=None, help="Why (required unless the policy says otherwise).")
@handle_errors
def reject(request_id: str, person: str, reason: str | None) -> None:
    """Reject a request as PERSON, with a reason."""
    _vote(request_id, person, VoteKind.REJECT, reason)


@cli.group(invoke_without_command=True)
@click.option("--model", default=None)
@click.option("--since", callback=parse_when, default=None, help="Created at or after (ISO).")
@click.option("--until", callback=parse_when, default=None, help="Created before (ISO).")
@click.option(
    "--decision",
    type=click.Choice(["pending", "approved", "rejected", "expired", "superseded", "cancelled"]),
    default=None,
)
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
    svc = container().service
    flt = RequestFilter(
        model=model,
        since=since,
        until=until,
        approver=approver,
        decision=decision,
    )
    requests = svc.search(flt)
    if fmt == "json":
        history = svc.history(requests)
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
    count, problem = container().service.verify_audit()
    if problem is not None:
        raise CliError(f"audit log tampered: {problem}")
    click.echo(f"audit log intact: {count} events")


@cli.command()
@click.option("--model", "model_name", default="iris-classifier", show_default=True)
@click.option("--requested-by", default="staging-pipeline", show_default=True)
@click.option(
    "--latency-iterations", default=100, show_default=True, type=click.IntRange(1, 100000)
)
@handle_errors
def demo(model_name: str, requested_by: str, latency_iterations: int) -> None:
    """Run the data, training and staging pipelines locally and submit a real request."""
    import os

    from bot.entrypoints.demo import run_demo

    c = container()
    out = run_demo(
        c.service,
        tracking_uri=c.settings.mlflow_tracking_uri,
        model_name=model_name,
        requested_by=requested_by,
        latency_iterations=latency_iterations,
        bot_url=os.environ.get("APPROVAL_BOT_URL") or None,
        say=lambda line: click.echo(line, err=True),
    )
    rid = out["id"]
    click.echo(
        f"submitted {rid}: {model_name} v{out['model_version']} "
        f"(latency p99 {float(out['latency_p99_ms']):.2f} ms, "
        f"disagreement {float(out['disagreement_rate']):.4f}, "
        f"accuracy {float(out['challenger_accuracy']):.4f})"
    )
    click.echo(f"next: approval-bot show {rid}   |   approval-bot approve {rid} --as bob")


@cli.group()
def outbox() -> None:
    """Effects of decisions: list, retry dead letters, deliver without a server."""


@outbox.command("list")
@click.option(
    "--state", type=click.Choice(["pending", "delivering", "delivered", "dead"]), default=None
)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@FORMAT
@handle_errors
def outbox_list(state: str | None, limit: int, fmt: str) -> None:
    """Effects and their delivery state."""
    from bot.entrypoints.api import outbox_item_dict

    with container().service.uow() as uow:
        items = uow.outbox.items(state=state, limit=limit)
    if fmt == "json":
        emit_json([outbox_item_dict(i) for i in items])
        return
    if not items:
        click.echo("no effects" + (f" in state {state}" if state else ""))
        return
    rows = [
        [
            i.id,
            i.kind,
            i.request_id,
            i.state,
            i.attempts,
            render.ts(i.next_attempt_at),
            (i.last_error or "")[:60],
        ]
        for i in items
    ]
    click.echo(
        render.table(
            ("id", "kind", "request", "state", "attempts", "next attempt", "last error"), rows
        )
    )


@outbox.command("retry")
@click.argument("item_id", type=int)
@handle_errors
def outbox_retry(item_id: int) -> None:
    """Put a dead-lettered effect back in the queue (attempts reset)."""
    if not container().dispatcher.retry_item(item_id):
        raise CliError(f"no dead or pending outbox item {item_id}")
    click.echo(f"outbox item {item_id} queued; a running server delivers it within seconds")


@outbox.command("deliver")
@handle_errors
def outbox_deliver() -> None:
    """Deliver the effects that are due now, without a server."""
    import asyncio

    report = asyncio.run(container(adapters=True).dispatcher.deliver_due())
    click.echo(
        f"{len(report.delivered)} delivered, {len(report.retrying)} to retry, "
        f"{len(report.dead)} dead-lettered"
    )


def main() -> None:
    cli(prog_name="approval-bot")


if __name__ == "__main__":
    main()
