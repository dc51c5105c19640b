"""`approval-bot serve`: one uvicorn process with the API, the channels and the scheduler.

The lifespan starts the scheduler (APScheduler 3, in-process) and the channels,
and on shutdown (SIGTERM: uvicorn first finishes the requests in flight) stops
the scheduler, waits for deliveries in flight and closes the channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI

from bot.bootstrap import Container
from bot.domain.effects import LAUNCH_PROMOTION
from bot.domain.errors import DomainError
from bot.entrypoints.http import create_app
from bot.ports.effects import PromotionLauncher
from bot.ports.store import StoreUnavailable
from bot.service.promotions import poll_deploys, poll_promotions

log = logging.getLogger("bot.server")
WORKER_THREADS = 16
M_ARENA_MAX = -8  # glibc's mallopt parameter


class CannotListen(DomainError):
    """The address or port to serve on cannot be used (one line, before anything starts)."""

    code = "cannot_listen"


def quiet_when_unavailable(job: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A scheduler job that skips its tick while the database is away (the unit of work
    logged the outage once) instead of logging a traceback every tick.

    A tick still running when the server stops is cancelled with the event loop; APScheduler
    would swallow that CancelledError too, but only after logging it as a job failure with a
    traceback. Stopping is not a failure: the tick just ends (its work is in the database)."""

    @functools.wraps(job)
    async def run(*args: Any) -> None:
        try:
            await job(*args)
        except StoreUnavailable:
            return
        except asyncio.CancelledError:
            log.debug("%s: cancelled while the server stopped", job.__name__)
            return

    return run


@quiet_when_unavailable
async def scan(container: Container) -> None:
    """Expire, remind, escalate what is due; several replicas may run this at once."""
    result = await asyncio.to_thread(container.services.commands.scan_due)
    container.metrics.job_runs.labels("scan").inc()
    if result.expired or result.reminded or result.escalated:
        log.info(
            "scan: expired %s, reminded %s, escalated %s",
            result.expired,
            result.reminded,
            result.escalated,
        )
    if result.auto_approved or result.window_closed:
        log.info(
            "scan: approved by their policy's veto window %s, windows closed %s",
            result.auto_approved,
            result.window_closed,
        )


@quiet_when_unavailable
async def sweep(container: Container) -> None:
    """Deliver effects left by other processes (the CLI, a crashed replica), and those that
    waited for a system this process has."""
    released = await asyncio.to_thread(container.dispatcher.release_waiting)
    if released:
        log.info("sweep: %d waiting effect(s) can be delivered now", released)
    report = await container.dispatcher.deliver_due()
    container.metrics.job_runs.labels("sweep").inc()
    if report.count:
        log.info(
            "sweep: %d delivered, %d retrying, %d dead, %d waiting",
            len(report.delivered),
            len(report.retrying),
            len(report.dead),
            len(report.waiting),
        )


@quiet_when_unavailable
async def check_audit(container: Container, logged: dict[str, str]) -> None:
    """Check the audit events written since the last check (the whole chain when a full walk
    is due); the console shows the result. Several replicas may run this at once. A problem
    is logged once per process (``logged`` remembers it), not at every check."""
    every = timedelta(hours=container.settings.audit_full_check_hours)
    check = await asyncio.to_thread(container.services.audit.check, full_every=every)
    container.metrics.job_runs.labels("audit_check").inc()
    problem = str(check.problem) if check.problem is not None else ""
    if problem and logged.get("problem") != problem:
        log.error("audit log tampered: %s", problem)
    logged["problem"] = problem


@quiet_when_unavailable
async def poll(container: Container, launcher: PromotionLauncher) -> None:
    """Follow promotion runs until they end; post the result to the request's chats (the
    commit that records how a run ended delivers its messages). Likewise the runs of "Deploy
    the champion": a failed one is told in the divergence's alert."""
    await poll_promotions(container.services, launcher)
    await poll_deploys(container.services, launcher)


def launcher_line(container: Container) -> str:
    """Which promotion launcher runs approved requests, or why none does."""
    if container.launcher is not None:
        return container.settings.launcher.strip().lower()
    waiting = container.dispatcher.unavailable.get(LAUNCH_PROMOTION)
    return f"none: {waiting}" if waiting else "none"


def redact_url(url: str | None) -> str | None:
    """A URL without its password, for the log."""
    if not url or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def build_scheduler(container: Container) -> AsyncIOScheduler:
    settings = container.settings
    scheduler = AsyncIOScheduler(timezone=UTC)
    common: dict[str, Any] = {
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": 30,
        "next_run_time": datetime.now(UTC),
        "trigger": "interval",
    }
    every = {"seconds": settings.sweep_seconds}
    scheduler.add_job(scan, args=[container], id="scan", **every, **common)
    scheduler.add_job(sweep, args=[container], id="sweep", **every, **common)
    # Not at start, unlike the others: a start is busy enough, and the page checks a few new
    # events itself. Its first run may walk the whole log (nothing kept yet).
    audit_every = timedelta(seconds=settings.audit_check_seconds)
    scheduler.add_job(
        check_audit,
        args=[container, {}],
        id="audit_check",
        seconds=settings.audit_check_seconds,
        **{**common, "next_run_time": datetime.now(UTC) + audit_every},
    )
    if container.launcher is not None:
        scheduler.add_job(
            poll,
            args=[container, container.launcher],
            id="poll_promotions",
            seconds=settings.poll_seconds,
            **common,
        )
    return scheduler


def settle_heap() -> None:
    """Move everything loaded so far (modules, wiring, caches) out of the cyclic GC's sight.

    A full collection walks every tracked object: with MLflow and KFP imported that is a
    pause of 70–100 ms, which landed on whichever chat ack was in flight. Frozen objects are
    never walked again; what requests allocate is collected as usual.
    """
    gc.collect()
    gc.freeze()


def make_lifespan(container: Container) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        # Database work and blocking SDKs run in worker threads: more than the default
        # (cores + 4) so concurrent deliveries and votes do not queue behind each other.
        loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="bot"))
        container.delivery.loop = loop
        for start in container.startups:
            await start()
        scheduler = build_scheduler(container)
        scheduler.start()
        settle_heap()
        log.info(
            "approval-bot ready (channels: %s; messages to: %s; promotion launcher: %s; "
            "MLflow: %s)",
            ", ".join(container.channels),
            ", ".join(container.services.channels),
            launcher_line(container),
            redact_url(container.settings.mlflow_tracking_uri) or "not configured",
        )
        try:
            yield
        finally:
            log.info("shutting down: stopping the scheduler and finishing deliveries")
            scheduler.shutdown(wait=False)
            await container.delivery.drain()
            for stop in reversed(container.shutdowns):
                try:
                    await stop()
                except Exception:
                    log.exception("error while stopping a channel")
            container.delivery.loop = None
            log.info("stopped")

    return lifespan


def build_app(container: Container) -> FastAPI:
    return create_app(container, lifespan=make_lifespan(container))


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the worker threads start (as MALLOC_ARENA_MAX does).

    By default every thread that allocates may get an arena of its own, up to eight per
    core, and a server with dozens of worker threads keeps each one's fragments resident.
    Elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        return


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything starts (as uvicorn binds it: SO_REUSEADDR).

    uvicorn alone binds only after the application started: a taken port then showed the
    ready line, the error, and the scheduler's jobs cancelled with tracebacks. Here it is
    ``CannotListen`` with one line saying what to do instead."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(listen_problem(host, port, exc)) from None
    sock.set_inheritable(True)
    return sock


def listen_problem(host: str, port: int, exc: OSError) -> str:
    where = f"cannot listen on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where}: the port is already in use (another approval-bot, or another program); "
            f"choose another with --port (`make run PORT={port + 1}`)"
        )
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied (ports below 1024 need privileges); use --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: this machine has no such address; use --host (e.g. 127.0.0.1)"
    return f"{where}: {exc.strerror or exc}"


def serve(container: Container, *, sock: socket.socket) -> None:
    """Serve on ``sock`` (from ``listen``) until SIGTERM or Ctrl-C."""
    if "MALLOC_ARENA_MAX" not in os.environ:
        limit_malloc_arenas()
    app = build_app(container)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=True,
        timeout_graceful_shutdown=30,
        lifespan="on",
        server_header=False,
        # The console decides whom to trust from the connection's own peer address
        # (APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES): uvicorn must not replace it with
        # X-Forwarded-For, which any client can send.
        proxy_headers=False,
    )
    log.info("listening on http://%s:%d", f"[{host}]" if ":" in host else host, port)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises the signal so the
    # default action kills the process (exit -15). A SIGTERM is how orchestrators
    # ask us to stop, and a clean stop is success: exit 0 instead.
    previous = signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_cleanly(_sig: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)
