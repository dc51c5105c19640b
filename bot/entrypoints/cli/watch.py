"""``watch``: what the registry ↔ serving watch saw differ, and moving @champion back
(docs/watch.md)."""

from __future__ import annotations

import click

from bot.domain.names import Channel
from bot.entrypoints import render
from bot.entrypoints.cli.common import SuggestingGroup, container, handle_errors
from bot.service.identity import Identity


@click.group(cls=SuggestingGroup)
def watch() -> None:
    """Divergences of serving and the registry the serving watch saw (docs/watch.md)."""


@watch.command("list")
@handle_errors
def watch_list() -> None:
    """The divergences that are not resolved yet."""
    found = container().services.queries.open_divergences()
    if not found:
        click.echo("serving and the registry agree for every watched model")
        return
    rows = [
        [
            d.id,
            d.model,
            d.service,
            f"v{d.served_version}" if d.served_version else (d.served_uri or "nothing"),
            f"v{d.champion_version}" if d.champion_version else "-",
            render.ts(d.detected_at),
        ]
        for d in found
    ]
    click.echo(render.table(("id", "model", "served by", "serves", "@champion", "seen"), rows))


@watch.command("alias-back")
@click.argument("divergence_id")
@click.option("--as", "person", required=True, help="The configured person who asks.")
@handle_errors
def alias_back(divergence_id: str, person: str) -> None:
    """Move @champion back to the served version (authorized like a rollback)."""
    watch_actions = container().services.watch
    found = watch_actions.move_alias_back(divergence_id, Identity(Channel.CLI, person))
    click.echo(
        f"{found.model}: @champion goes back to v{found.served_version} (the served version) "
        "when the server delivers it; the watch's next round then resolves the alert"
    )


@watch.command("deploy-champion")
@click.argument("divergence_id")
@click.option("--as", "person", required=True, help="The configured person who asks.")
@handle_errors
def deploy_champion(divergence_id: str, person: str) -> None:
    """Serve the version @champion names: a promotion run (authorized like a rollback)."""
    watch_actions = container().services.watch
    found = watch_actions.deploy_champion(divergence_id, Identity(Channel.CLI, person))
    click.echo(
        f"{found.model}: a promotion run serves v{found.champion_version} (@champion) on "
        f"{found.service} when the server delivers it; the watch's next round then resolves "
        "the alert"
    )
