"""Run `approval-bot serve` as a real process for tests (migrated database, example config)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.db.migrate import upgrade
from bot.adapters.registry import identity_kinds
from bot.ports.clock import Clock
from bot.service import Services, build_services
from tests import builders
from tests.support.processes import free_port, http_responds, running_process


@dataclass
class BotServer:
    url: str
    process: Popen[bytes]
    log_path: Path
    db_url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def service_for(db_url: str, clock: Clock | None = None) -> Iterator[Services]:
    """The service over a database that a server process uses too (engine closed after)."""
    engine = make_engine(db_url)
    try:
        yield build_services(
            SqlUnitOfWorkFactory(engine),
            clock=clock,
            channels=("console",),
            identities=identity_kinds(),
        )
    finally:
        engine.dispose()


def prepare_database(db_url: str) -> None:
    """Migrate and apply the example config, as `make run` does."""
    upgrade(db_url)
    with service_for(db_url) as svc:
        svc.admin.apply(builders.directory())


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]


def bot_env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        "APPROVAL_BOT_DATABASE_URL": db_url,
        "APPROVAL_BOT_CONFIG": "",
        "APPROVAL_BOT_LAUNCHER": "none",
        "APPROVAL_BOT_SWEEP_SECONDS": "0.5",
        "MLFLOW_TRACKING_URI": "",
        "SLACK_BOT_TOKEN": "",
        "TELEGRAM_BOT_TOKEN": "",
        **extra,
    }


@contextmanager
def running_bot(
    db_url: str,
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    name: str = "bot",
    port: int | None = None,
) -> Iterator[BotServer]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / f"{name}.log"
    with running_process(
        serve_command(port),
        log_path=log_path,
        env=bot_env(db_url, **dict(env or {})),
        cwd=workdir,
        ready=lambda: http_responds(f"{url}/readyz"),
        description=f"approval-bot {name} on {url}",
        startup_timeout=60,
        stop_timeout=30,
    ) as proc:
        yield BotServer(url, proc, log_path, db_url)
