"""Requests: submit, list, show, approve, reject."""

from __future__ import annotations

import json

import click
from pydantic import ValidationError

from bot.domain.model import VoteKind
from bot.domain.names import Channel
from bot.entrypoints import render
from bot.entrypoints.cli.common import (
    FORMAT,
    CliError,
    container,
    emit_json,
    handle_errors,
    read_text,
)
from bot.ports.store import RequestFilter
from bot.service.identity import Identity
from bot.service.schemas import SubmissionIn, field_errors
from bot.service.views import request_to_dict


def read_submission(path: str) -> SubmissionIn:
    text = read_text(path)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise CliError(f"{path}: nested too deeply to read") from None
    try:
        return SubmissionIn.model_validate(raw)
    except ValidationError as exc:
        raise CliError(f"{path}: " + "; ".join(field_errors(exc))) from None


@click.command()
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help='Submission JSON (README.md, "HTTP API"; e.g. examples/request.json), or - for stdin.',
)
@FORMAT
@handle_errors
def submit(path: str, fmt: str) -> None:
    """Submit a challenger for approval (what the staging pipeline's notify step does)."""
    body = read_submission(path)
    result = container().services.commands.submit(body)
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


@click.command()
@FORMAT
@handle_errors
def pending(fmt: str) -> None:
    """Requests waiting for a decision."""
    requests = container().services.queries.pending()
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


@click.command()
@click.argument("request_id")
@FORMAT
@handle_errors
def show(request_id: str, fmt: str) -> None:
    """One request: gates, rules, votes, decision and history."""
    queries = container().services.queries
    request, policy = queries.get_with_policy(request_id)
    history = queries.history([request])[request.id]
    effects = queries.effects([request])[request.id]
    evidence = queries.evidence(request.id)
    if fmt == "json":
        newer = queries.newer_approval(request)
        out = request_to_dict(request, policy, history, effects, newer_approval=newer)
        emit_json({**out, "evidence": [e.to_dict() for e in evidence]})
    else:
        click.echo(render.show(request, policy, history, effects, evidence))


HISTORY_DEFAULT = 10  # as the chat channels' /history


def history_args(args: tuple[str, ...]) -> tuple[str | None, int]:
    """``[MODEL] [N]`` as the chat commands read it: a last argument of digits is N."""
    if len(args) > 2:
        raise click.UsageError("history takes at most a model and a number: history [MODEL] [N]")
    model, limit = None, HISTORY_DEFAULT
    for i, arg in enumerate(args):
        if arg.isdigit() and i == len(args) - 1:
            limit = int(arg)
        elif i == 0:
            model = arg
        else:
            raise click.UsageError(f"history: {arg!r} is not a number (history [MODEL] [N])")
    if limit < 1:
        raise click.UsageError("history: N must be at least 1")
    return model, limit


@click.command(name="history")
@click.argument("args", nargs=-1, metavar="[MODEL] [N]")
@FORMAT
@handle_errors
def history_cmd(args: tuple[str, ...], fmt: str) -> None:
    """The last N requests (of MODEL), newest first; default 10 (as the chat channels'
    /history)."""
    model, limit = history_args(args)
    requests = container().services.queries.search(
        RequestFilter(model=model, newest_first=True, limit=limit)
    )
    if fmt == "json":
        emit_json([request_to_dict(r) for r in requests])
        return
    if not requests:
        click.echo(f"no requests{f' of {model}' if model else ''} yet")
        return
    click.echo(
        render.table(
            ("id", "model", "version", "state", "created", "decided", "by", "reason"),
            [
                [
                    r.id,
                    r.model_name,
                    r.model_version,
                    r.state.value,
                    render.ts(r.created_at),
                    render.ts(r.decided_at) if r.decided_at else None,
                    r.decided_by,
                    (r.reason or "")[:80] or None,
                ]
                for r in requests
            ],
        )
    )


PAST = {VoteKind.APPROVE: "approved", VoteKind.REJECT: "rejected"}


def cast(request_id: str, person: str, vote: VoteKind, comment: str | None) -> None:
    result = container().services.commands.vote(
        request_id, Identity(Channel.CLI, person), vote, comment=comment, record_denial=False
    )
    r = result.request
    click.echo(f"{person} {PAST[vote]} {r.id} ({r.model_name} v{r.model_version})")
    if result.decided:
        click.echo(f"request {r.id} is now {r.state.value}")
    else:
        missing = ", ".join(f"{n} more from {g}" for g, n in r.missing_groups(result.policy))
        click.echo(f"still pending: needs {missing}")


@click.command()
@click.argument("request_id")
@click.option("--as", "person", required=True, help="The configured person who approves.")
@click.option("--comment", default=None)
@handle_errors
def approve(request_id: str, person: str, comment: str | None) -> None:
    """Approve a request as PERSON."""
    cast(request_id, person, VoteKind.APPROVE, comment)


@click.command()
@click.argument("request_id")
@click.option("--as", "person", required=True, help="The configured person who rejects.")
@click.option("--reason", default=None, help="Why (required unless the policy says otherwise).")
@handle_errors
def reject(request_id: str, person: str, reason: str | None) -> None:
    """Reject a request as PERSON, with a reason."""
    cast(request_id, person, VoteKind.REJECT, reason)


COMMANDS = (submit, pending, show, history_cmd, approve, reject)
