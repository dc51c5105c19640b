"""`approval-bot serve` as real processes: crash safety, replicas, secrets, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.adapters.db.migrate import upgrade
from bot.entrypoints.server import quiet_when_unavailable
from tests import builders
from tests.builders import parse_config
from tests.fakes import FakeClock
from tests.support.bot_server import (
    bot_env,
    prepare_database,
    running_bot,
    serve_command,
    service_for,
)
from tests.support.processes import free_port, wait_for
from tests.support.webhook_fake import WebhookFake

TOKEN = "e2e-bootstrap-token-abcdefghijklmnop"


def outbox(db_url: str) -> list:
    with service_for(db_url) as svc, svc.uow() as uow:
        return uow.outbox.items(limit=10_000)


def audit_kinds(db_url: str, request_id: str) -> list[str]:
    with service_for(db_url) as svc, svc.uow() as uow:
        return [r.kind for r in uow.audit.records(request_id)]


def job_runs(url: str, job: str = "scan") -> float:
    """How many times the server's scheduler ran ``job`` (its metric)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f'approval_bot_scheduler_runs_total{{job="{job}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_sigkill_between_commit_and_delivery_loses_and_duplicates_nothing(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    upgrade(db_url)
    policy = builders.policy_patch(
        deadline="1s", remind_every=None, escalate_after=None, escalate_to=None
    )
    with service_for(db_url) as svc:
        svc.admin.apply(parse_config(builders.config_dict(policies=policy)))

    with WebhookFake() as hook:
        hook.hold = lambda key: key.endswith(":log_decision")
        env = {
            "APPROVAL_BOT_WEBHOOK_URL": hook.hook_url,
            "APPROVAL_BOT_API_TOKEN": TOKEN,
            "APPROVAL_BOT_OUTBOX_LEASE_SECONDS": "3",
        }
        with running_bot(db_url, tmp_path, env=env, name="first") as first:
            r = httpx.post(
                f"{first.url}/api/v1/approvals",
                json=json.loads(builders.submission().model_dump_json()),
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert r.status_code == 201
            rid = r.json()["id"]
            # The scheduler expires it (a decision committed by this server); its
            # decision log effect is now in flight and held by the receiver. The other
            # effects go out beside it (other lanes): wait until their delivery is
            # recorded. One acknowledged but not yet recorded when the process dies is
            # sent again with its Idempotency-Key, which the receiver dedupes; that
            # window is not what this test is about.
            wait_for(
                lambda: hook.received[f"{rid}:log_decision"] == 1
                and all(
                    i.state == "delivered" for i in outbox(db_url) if i.key != f"{rid}:log_decision"
                ),
                timeout=60,
                description="the decision effect to be in flight, the others delivered",
            )
            assert "decided" in audit_kinds(db_url, rid)
            os.killpg(first.process.pid, signal.SIGKILL)
            first.process.wait(timeout=30)
        hook.release.set()
        hook.hold = lambda key: False
        pending = [i.key for i in outbox(db_url) if i.state != "delivered"]
        assert f"{rid}:log_decision" in pending, "the kill happened before delivery"

        with running_bot(db_url, tmp_path, env=env, name="second"):
            wait_for(
                lambda: all(i.state == "delivered" for i in outbox(db_url)),
                timeout=60,
                description="every effect to be delivered after the restart",
            )
        keys = [i.key for i in outbox(db_url)]
        assert f"{rid}:archive" in keys and f"{rid}:log_decision" in keys
        assert set(hook.acked) == set(keys)
        assert all(n == 1 for n in hook.acked.values()), hook.acked


@pytest.mark.postgres
def test_two_replicas_remind_escalate_and_expire_exactly_once(pg_url, tmp_path):
    upgrade(pg_url)
    clock = FakeClock()
    policy = builders.policy_patch(
        deadline="1h", remind_every="10m", escalate_after="20m", escalate_to="sre"
    )
    now = datetime.now(UTC)
    ids = {}
    with service_for(pg_url, clock) as svc:
        svc.admin.apply(parse_config(builders.config_dict(policies=policy)))
        for name, age in (("expire", 65), ("escalate", 25), ("remind", 11)):
            clock.t = now - timedelta(minutes=age)
            ids[name] = svc.commands.submit(
                builders.submission(model_name=f"model-{name}")
            ).request.id

    with WebhookFake() as hook:
        env = {"APPROVAL_BOT_WEBHOOK_URL": hook.hook_url, "APPROVAL_BOT_SWEEP_SECONDS": "0.2"}
        with (
            running_bot(pg_url, tmp_path, env=env, name="a") as a,
            running_bot(pg_url, tmp_path, env=env, name="b") as b,
        ):

            def settled() -> bool:
                kinds = {k: audit_kinds(pg_url, rid) for k, rid in ids.items()}
                return (
                    "expired" in kinds["expire"]
                    and "escalated" in kinds["escalate"]
                    and "reminded" in kinds["remind"]
                    and all(i.state == "delivered" for i in outbox(pg_url))
                )

            wait_for(settled, timeout=60, description="the scans and deliveries")
            # Let both replicas scan several more times before counting.
            target_a, target_b = job_runs(a.url) + 5, job_runs(b.url) + 5
            wait_for(
                lambda: job_runs(a.url) >= target_a and job_runs(b.url) >= target_b,
                timeout=60,
                description="five more scans on each replica",
            )
            assert job_runs(a.url) > 0 and job_runs(b.url) > 0

    kinds = {k: audit_kinds(pg_url, rid) for k, rid in ids.items()}
    assert kinds["expire"].count("expired") == 1 and kinds["expire"].count("decided") == 1
    assert kinds["escalate"].count("escalated") == 1
    assert kinds["escalate"].count("reminded") == 1
    assert kinds["remind"].count("reminded") == 1
    assert "escalated" not in kinds["remind"]
    effects = [i.key for i in outbox(pg_url)]
    assert len(effects) == len(set(effects))
    assert set(hook.acked) == set(effects)
    assert all(n == 1 for n in hook.acked.values()), hook.acked
    assert sum(1 for k in effects if ":reminded:" in k) == 2
    assert sum(1 for k in effects if ":escalated:" in k) == 1


def test_secrets_never_reach_the_logs(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    secrets = {
        "APPROVAL_BOT_API_TOKEN": "api-token-SECRET-1111111111",
        "SLACK_SIGNING_SECRET": "signing-SECRET-2222222222",
        "SLACK_APP_TOKEN": "xapp-1-SECRET-3333333333",
        "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET": "tg-hook-SECRET-4444444444",
        "MLFLOW_TRACKING_PASSWORD": "mlflow-SECRET-5555555555",
    }
    env = {**secrets, "APPROVAL_BOT_LOG_FORMAT": "json", "APPROVAL_BOT_LOG_LEVEL": "DEBUG"}
    with running_bot(db_url, tmp_path, env=env) as bot:
        auth = {"Authorization": f"Bearer {secrets['APPROVAL_BOT_API_TOKEN']}"}
        # Put secret values where the bot logs request data, and send a bad token.
        sub = builders.submission(
            requested_by=secrets["SLACK_SIGNING_SECRET"], model_name=secrets["SLACK_APP_TOKEN"]
        )
        r = httpx.post(
            f"{bot.url}/api/v1/approvals",
            json=json.loads(sub.model_dump_json()),
            headers=auth,
            timeout=30,
        )
        assert r.status_code == 201
        assert (
            httpx.get(
                f"{bot.url}/api/v1/approvals",
                headers={"Authorization": "Bearer xoxb-not-a-real-token-123"},
                timeout=30,
            ).status_code
            == 401
        )
        rid = r.json()["id"]
        wait_for(
            lambda: f'"request_id": "{rid}"' in bot.log(),
            timeout=30,
            description="a log line about the request",
        )
    log = bot.log()
    assert log.strip()
    for name, value in secrets.items():
        assert value not in log, f"{name} leaked into the log"
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines and all(
        {"ts", "level", "logger", "request_id", "message"} <= set(x) for x in lines
    )
    assert any(x["request_id"] == rid for x in lines)


def test_sigterm_finishes_and_exits_zero(tmp_path):
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    with running_bot(db_url, tmp_path, env={"APPROVAL_BOT_API_TOKEN": TOKEN}) as bot:
        r = httpx.post(
            f"{bot.url}/api/v1/approvals",
            json=json.loads(builders.submission().model_dump_json()),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert r.status_code == 201
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(timeout=30) == 0
    log = bot.log()
    assert "shutting down" in log and "stopped" in log
    assert all(i.state == "delivered" for i in outbox(db_url))


def test_serve_refuses_an_unmigrated_database(tmp_path):
    db_url = f"sqlite:///{tmp_path}/empty.db"
    proc = subprocess.run(
        serve_command(free_port()),
        env={**os.environ, **bot_env(db_url)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "run `approval-bot migrate`" in proc.stderr


def test_a_taken_port_is_one_line_before_anything_starts(tmp_path):
    """The most common first mistake: uvicorn alone binds after the application started, so
    the bot said it was ready, then failed to bind, then logged the scheduler's cancelled jobs
    (111 lines, 6 tracebacks). Now: one line, what to do, exit 1, and nothing started."""
    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            serve_command(port),
            env={**os.environ, **bot_env(db_url)},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (another "
        "approval-bot, or another program); choose another with --port "
        f"(`make run PORT={port + 1}`)"
    ]
    assert proc.stdout == ""


def test_a_tick_cut_off_by_the_stop_logs_no_traceback(caplog):
    """A scheduler job still running when the loop ends is cancelled; APScheduler logged that
    as 'Job raised an exception' with a traceback. Stopping is not a failure."""

    async def main() -> None:
        started = asyncio.Event()

        @quiet_when_unavailable
        async def tick() -> None:
            started.set()
            await asyncio.Event().wait()

        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(tick, "interval", seconds=60, next_run_time=datetime.now(UTC))
        scheduler.start()
        await asyncio.wait_for(started.wait(), timeout=10)
        scheduler.shutdown(wait=False)

    caplog.set_level(logging.DEBUG)
    asyncio.run(main())  # cancels the tick still running, as the server's loop does at exit
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert any("cancelled while the server stopped" in r.getMessage() for r in caplog.records)


def test_the_scheduler_checks_the_audit_log_and_the_console_shows_it(tmp_path):
    """docs/audit-log.md: `serve` says where signing began, checks the log in the background
    (here every 0.2 s, the whole log every 0.36 s) and logs what it finds once."""
    from sqlalchemy import create_engine, text

    from tests.support.audit import K1

    db_url = f"sqlite:///{tmp_path}/bot.db"
    prepare_database(db_url)  # events written before the key was set
    env = {
        "APPROVAL_BOT_API_TOKEN": TOKEN,
        "APPROVAL_BOT_AUDIT_KEY": K1,
        "APPROVAL_BOT_AUDIT_CHECK_SECONDS": "0.2",
        "APPROVAL_BOT_AUDIT_FULL_CHECK_HOURS": "0.0001",
    }
    engine = create_engine(db_url)

    def kept() -> str | None:
        with engine.connect() as conn:
            return conn.execute(text("SELECT problem FROM audit_checks")).scalar()

    def checked() -> bool:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM audit_checks")).scalar_one() == 1

    try:
        with running_bot(db_url, tmp_path, env=env) as bot:
            assert "new events are signed with audit key 'k1'; none is signed yet" in bot.log()
            r = httpx.post(
                f"{bot.url}/api/v1/approvals",
                json=json.loads(builders.submission().model_dump_json()),
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert r.status_code == 201
            wait_for(checked, timeout=30, description="the scheduler's first audit check")
            page = httpx.get(f"{bot.url}/audit", timeout=30).text
            assert (
                "hash chain checks out" in page and "Signed with the audit key from event" in page
            )
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1"))
            wait_for(
                lambda: "audit log tampered: event #1 " in bot.log(),
                timeout=30,
                description="the scheduler's full walk to find the edit",
            )
            assert kept() is not None and "event #1 " in str(kept())
            assert "TAMPERED" in httpx.get(f"{bot.url}/audit", timeout=30).text
            after = job_runs(bot.url, "audit_check")
            wait_for(
                lambda: job_runs(bot.url, "audit_check") >= after + 3,
                timeout=30,
                description="three more checks, each a full walk finding it again",
            )
    finally:
        engine.dispose()
    log = bot.log()
    assert log.count("audit log tampered") == 1  # found once, not every tick
    assert K1.split(":", 1)[1] not in log
