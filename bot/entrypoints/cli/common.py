"""What every command shares: one-line errors, the wired process, output helpers."""

from __future__ import annotations

import difflib
import json
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot import bootstrap
from bot.adapters import registry
from bot.domain.directory import Directory
from bot.domain.errors import DomainError
from bot.ports.store import StoreUnavailable
from bot.service.config import parse_config
from bot.settings import load_settings

F = TypeVar("F", bound=Callable[..., Any])
FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)


class SuggestingGroup(click.Group):
    """A command group that answers a mistyped subcommand with the ones it may have meant."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            typed = args[0] if args else ""
            if exc.message.startswith("No such command"):
                close = difflib.get_close_matches(typed.lower(), self.list_commands(ctx), n=3)
                if close:
                    exc.message += " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
            raise


class CliError(click.ClickException):
    """One line on stderr, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def handle_errors(fn: F) -> F:
    """Domain errors and an unusable database become one line, not a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise CliError(exc.message) from None
        except StoreUnavailable as exc:
            raise CliError(str(exc)) from None
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


def typed_name() -> str:
    """How to type this command here so that it runs: ``approval-bot`` when that is what the
    shell finds, else its path (``.venv/bin/approval-bot`` when the venv is not activated, as
    under make), or ``… -m bot``. For hints that must run as printed."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "approval-bot":
        return f"{_short(Path(sys.executable))} -m bot"
    found = shutil.which("approval-bot")
    if found and Path(found).resolve() == argv0.resolve():
        return "approval-bot"
    return _short(argv0)


def _short(path: Path) -> str:
    """``path`` relative to the current directory when it is under it, else absolute."""
    absolute = path.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


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


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (``-``: stdin), or CliError saying why it cannot be read."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})"
        ) from None


def load_config(path: str) -> Directory:
    """The declarative config at ``path``, or CliError naming each bad line or field."""
    text = read_text(path)
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise CliError(f"{path}: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise CliError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return parse_config(raw, registry.identity_kinds())
    except DomainError as exc:
        lines = exc.message.splitlines()
        for line in lines[1:]:
            click.echo(f"error: {path}: {line}", err=True)
        raise CliError(f"{path}: {lines[0]}") from None
