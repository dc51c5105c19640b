"""Running things: the server, and the local demo of the pipelines."""

from __future__ import annotations

import logging

import click

from bot import bootstrap
from bot.entrypoints.cli.common import container, handle_errors, load_config, typed_name
from bot.settings import default_data_dir, load_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@handle_errors
def serve(host: str, port: int) -> None:
    """Run the bot: HTTP API, web console, channels, scheduler (stops cleanly on SIGTERM).

    \b
    Environment (every variable: docs/configuration.md):
      APPROVAL_BOT_DATABASE_URL   database (default: SQLite in the project's var/)
      APPROVAL_BOT_CONFIG         declarative YAML applied at start
      APPROVAL_BOT_API_TOKEN      bootstrap API token (the local launcher needs it)
      APPROVAL_BOT_PUBLIC_URL     the address people use (links, console forms)
      APPROVAL_BOT_CONSOLE_LOCAL_EMAIL   the configured person the console votes as on
                                  this machine (`make run` sets you@localhost)
      APPROVAL_BOT_CONSOLE_TRUSTED_HEADER, _TRUSTED_PROXIES   console behind a proxy
      MLFLOW_TRACKING_URI         decision log, challenger archive, local promotions
      APPROVAL_BOT_LAUNCHER       local (default), kfp or none
      APPROVAL_BOT_AUDIT_KEY      KEY_ID:SECRET that signs the audit log (docs/audit-log.md)
      and each chat channel's variables (README.md, docs/configuration.md)
    """
    from bot.entrypoints import logs
    from bot.entrypoints.server import listen
    from bot.entrypoints.server import serve as run_server

    settings = load_settings()
    logs.configure(fmt=settings.log_format, level=settings.log_level, secrets=settings.secrets())
    sock = listen(host, port)  # a taken port is one line, before anything starts
    c = bootstrap.build(settings)
    shapes = [shape for spec in c.specs for shape in spec.secret_shapes]
    logs.configure(
        fmt=settings.log_format, level=settings.log_level, secrets=c.secrets(), shapes=shapes
    )
    try:
        bootstrap.check_audit_key(c)
        if settings.config_file:
            changes = c.services.admin.apply(load_config(settings.config_file), actor="serve")
            logging.getLogger("bot").info(
                "applied %s: %s",
                settings.config_file,
                f"{len(changes)} change(s)" if changes else "no changes",
            )
        c.services.admin.refuse_canaries_without_analysis()  # applied by another process
        run_server(c, sock=sock)
    finally:
        c.close()
        sock.close()


@click.command()
@click.option("--model", "model_name", default="iris-classifier", show_default=True)
@click.option("--requested-by", default="staging-pipeline", show_default=True)
@click.option(
    "--latency-iterations", default=100, show_default=True, type=click.IntRange(1, 100000)
)
@handle_errors
def demo(model_name: str, requested_by: str, latency_iterations: int) -> None:
    """Run the data, training and staging pipelines locally and submit a real request.

    With `make run` in one shell, `make demo` in a second one sets all of this up.

    \b
    Environment (docs/configuration.md):
      MLFLOW_TRACKING_URI      required: the MLflow server the pipelines log to
      APPROVAL_BOT_URL         the running bot (default: APPROVAL_BOT_PUBLIC_URL,
                               http://127.0.0.1:8080); when it answers and
      APPROVAL_BOT_API_TOKEN   is set (and accepted: checked before any pipeline
                               runs), the staging pipeline submits to it; otherwise
                               the request goes into APPROVAL_BOT_DATABASE_URL
      MLFLOW_UI_URL            where the request's MLflow links point (default: the
                               tracking URI)
    """
    import shlex
    from pathlib import Path

    from bot.entrypoints.demo import find_bot, from_api, run_demo, summary
    from bot.service.views import request_to_dict

    c = container()
    settings = c.settings
    token = settings.api_token.get_secret_value() if settings.api_token else None
    bot = find_bot(settings.approval_bot_url or settings.public_url, token)

    def say(line: str) -> None:
        click.echo(line, err=True)

    result = run_demo(
        c.services.commands,
        tracking_uri=settings.mlflow_tracking_uri,
        model_name=model_name,
        requested_by=requested_by,
        latency_iterations=latency_iterations,
        bot=bot,
        pipeline_root=Path(settings.local_pipeline_root) / "demo",
        mlflow_ui=settings.mlflow_ui_url,
        say=say,
    )
    if result.submitted_by == "staging pipeline" and bot is not None:
        request = from_api(bot, result.request_id)
    else:
        request = request_to_dict(c.services.queries.get(result.request_id))
    console = bot.url if bot is not None and bot.answers else None
    cli = typed_name()
    in_data_dir = settings.database_url == f"sqlite:///{settings.data_dir / 'approval-bot.db'}"
    if in_data_dir and settings.data_dir != default_data_dir().absolute():
        # The hint reads the same database only if it is told where (make's VAR=…).
        cli = f"APPROVAL_BOT_DATA_DIR={shlex.quote(str(settings.data_dir))} {cli}"
    click.echo("\n".join(summary(request, result, console=console, cli=cli)))


COMMANDS = (serve, demo)
