"""Setting up: the schema, the declarative config, API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from bot.domain.durations import parse_duration
from bot.domain.tokens import ApiToken, Scope, shown
from bot.entrypoints import render
from bot.entrypoints.cli.common import (
    FORMAT,
    SuggestingGroup,
    container,
    emit_json,
    handle_errors,
    load_config,
)
from bot.settings import load_settings


@click.command()
@handle_errors
def migrate() -> None:
    """Create or upgrade the database schema to the latest migration."""
    from bot.adapters.db.migrate import SCHEMA_HEAD, upgrade

    rev = upgrade(load_settings().database_url)
    if rev == SCHEMA_HEAD:
        click.echo(f"database at migration head {rev}")
    else:  # a newer release migrated it (a rollback): its schema only adds, nothing to do
        click.echo(f"database at {rev}, newer than this release's head {SCHEMA_HEAD}: left as is")
    legacy = [t.name for t in container().services.admin.tokens() if t.legacy and not t.revoked_at]
    if legacy:
        click.echo(
            f"warning: {len(legacy)} API token(s) made before token scopes act as admin until "
            f"replaced: {', '.join(legacy)} (README.md, API tokens)",
            err=True,
        )


@click.command()
@click.option(
    "-f",
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Declarative YAML: people, groups, policies (README.md, Declarative config).",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the changes; apply nothing.")
@handle_errors
def apply(path: str, dry_run: bool) -> None:
    """Make people, groups and policies match a YAML file (idempotent, all or nothing)."""
    directory = load_config(path)
    admin = container().services.admin
    changes = admin.plan(directory) if dry_run else admin.apply(directory)
    if not changes:
        click.echo("no changes")
        return
    for line in changes:
        click.echo(line)
    click.echo(f"{len(changes)} change(s) {'would be ' if dry_run else ''}applied")


@click.group(cls=SuggestingGroup)
def token() -> None:
    """API tokens: scoped, optionally expiring, stored hashed (README.md, API tokens)."""


def _scopes(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> Any:
    try:
        return Scope.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _lifetime(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    try:
        return parse_duration(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    callback=_scopes,
    help="submit (POST approvals: the staging pipeline), read (every GET: the promotion "
    "pipeline's check), admin (everything, outbox retries too); repeat or comma-separate.",
)
@click.option(
    "--requested-by",
    "requested_by",
    multiple=True,
    metavar="NAME",
    help="The only requested_by this token may submit as (repeat for more). Without it, "
    "any; the audit log records the token beside it either way.",
)
@click.option(
    "--expires-in",
    callback=_lifetime,
    metavar="DURATION",
    help="e.g. 90d or 12w, at most 365d; without it the token does not expire.",
)
@handle_errors
def token_create(
    name: str, scopes: frozenset[Scope], requested_by: tuple[str, ...], expires_in: Any
) -> None:
    """Create a token and print it once."""
    value = container().services.admin.create_token(
        name, scopes, requested_by=requested_by, expires_in=expires_in
    )
    click.echo(value)
    click.echo(f"token {name!r} ({shown(scopes)}) created; it is shown only now", err=True)


@token.command("list")
@FORMAT
@handle_errors
def token_list(fmt: str) -> None:
    """Every token: scopes, the names it submits as, expiry, and whether it still works."""
    admin = container().services.admin
    tokens, now = admin.tokens(), admin.clock.now()
    if fmt == "json":
        emit_json([_token_dict(t, now) for t in tokens])
        return
    if not tokens:
        click.echo("no API tokens (the bootstrap APPROVAL_BOT_API_TOKEN is not stored)")
        return
    headers = ("id", "name", "scopes", "submits as", "created", "expires", "state")
    rows = [
        [
            t.id,
            t.name,
            shown(t.scopes),
            ", ".join(t.requested_by) or "anyone",
            render.ts(t.created_at),
            render.ts(t.expires_at) if t.expires_at else "never",
            t.state(now),
        ]
        for t in tokens
    ]
    click.echo(render.table(headers, rows))
    legacy = [t.name for t in tokens if t.legacy and t.state(now) != "revoked"]
    if legacy:
        click.echo(
            f"{len(legacy)} token(s) made before scopes act as admin: replace them with "
            "scoped ones and revoke them",
            err=True,
        )


def _token_dict(t: ApiToken, now: datetime) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "scopes": sorted(t.scopes),
        "requested_by": list(t.requested_by),
        "created_at": t.created_at.isoformat() if t.created_at else None,
        "expires_at": t.expires_at.isoformat() if t.expires_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "legacy": t.legacy,
        "state": t.state(now),
    }


@token.command("revoke")
@click.argument("name")
@handle_errors
def token_revoke(name: str) -> None:
    """Revoke a token: it is refused from the next request on."""
    container().services.admin.revoke_token(name)
    click.echo(f"token {name!r} revoked")


COMMANDS = (migrate, apply, token)
