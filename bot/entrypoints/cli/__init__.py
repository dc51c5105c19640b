"""`approval-bot` command line (also `python -m bot`); README.md, "Command line".

Errors go to stderr as one line (config errors: one line per bad field) with a
non-zero exit; nothing is written when a command fails. One module per group of
commands; each only translates arguments into calls on the use cases.
"""

from __future__ import annotations

import click

from bot.entrypoints.cli import admin, requests, run
from bot.entrypoints.cli.audit import audit
from bot.entrypoints.cli.common import SuggestingGroup
from bot.entrypoints.cli.outbox import outbox
from bot.entrypoints.cli.watch import watch


@click.group(cls=SuggestingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """approval-bot: the human approval gate between staging and promotion."""
    ctx.ensure_object(dict)


for command in (*run.COMMANDS, *admin.COMMANDS, *requests.COMMANDS, audit, outbox, watch):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="approval-bot")
