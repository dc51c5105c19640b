"""Setting up: the schema, the declarative config, API tokens."""

from __future__ import annotations

import click

from bot.entrypoints.cli.common import container, handle_errors, load_config
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


@click.group()
def token() -> None:
    """API tokens for the pipelines (stored hashed)."""


@token.command("create")
@click.argument("name")
@handle_errors
def token_create(name: str) -> None:
    """Create a token and print it once."""
    value = container().services.admin.create_token(name)
    click.echo(value)
    click.echo(f"token {name!r} created; it is shown only now", err=True)


COMMANDS = (migrate, apply, token)
