"""Running things: the server, and the local demo of the pipelines."""

from __future__ import annotations

import logging

import click

from bot import bootstrap
from bot.entrypoints.cli.common import container, handle_errors, load_config
from bot.settings import load_settings


@click.command()
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
            changes = c.services.admin.apply(load_config(settings.config_file), actor="serve")
            logging.getLogger("bot").info(
                "applied %s: %s",
                settings.config_file,
                f"{len(changes)} change(s)" if changes else "no changes",
            )
        run_server(c, host=host, port=port)
    finally:
        c.close()


@click.command()
@click.option("--model", "model_name", default="iris-classifier", show_default=True)
@click.option("--requested-by", default="staging-pipeline", show_default=True)
@click.option(
    "--latency-iterations", default=100, show_default=True, type=click.IntRange(1, 100000)
)
@handle_errors
def demo(model_name: str, requested_by: str, latency_iterations: int) -> None:
    """Run the data, training and staging pipelines locally and submit a real request."""
    from bot.entrypoints.demo import run_demo

    c = container()
    out = run_demo(
        c.services.commands,
        tracking_uri=c.settings.mlflow_tracking_uri,
        model_name=model_name,
        requested_by=requested_by,
        latency_iterations=latency_iterations,
        bot_url=c.settings.approval_bot_url,
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


COMMANDS = (serve, demo)
