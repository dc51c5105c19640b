"""Two `approval-bot serve` processes on one PostgreSQL database: a veto window that ended is
approved once, by whichever replica's scheduler gets there first (README.md, "Rules")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.db.migrate import upgrade
from tests import builders
from tests.builders import parse_config
from tests.e2e.test_server_process import audit_kinds, job_runs, outbox
from tests.fakes import FakeClock
from tests.support.bot_server import running_bot, service_for
from tests.support.processes import wait_for
from tests.support.webhook_fake import WebhookFake


@pytest.mark.postgres
def test_two_replicas_approve_an_ended_window_once(pg_url, tmp_path):
    upgrade(pg_url)
    clock = FakeClock()
    policy = builders.policy_patch(auto_approve_after="30m")
    ids = []
    with service_for(pg_url, clock) as svc:
        svc.admin.apply(parse_config(builders.config_dict(policies=policy)))
        clock.t = datetime.now(UTC) - timedelta(minutes=31)  # their windows ended a minute ago
        for i in range(4):
            submission = builders.submission(model_name=f"model-{i}", staging_run_id=f"s{i}")
            ids.append(svc.commands.submit(submission).request.id)

    with WebhookFake() as hook:
        env = {"APPROVAL_BOT_WEBHOOK_URL": hook.hook_url, "APPROVAL_BOT_SWEEP_SECONDS": "0.2"}
        with (
            running_bot(pg_url, tmp_path, env=env, name="a") as a,
            running_bot(pg_url, tmp_path, env=env, name="b") as b,
        ):
            wait_for(
                lambda: all("decided" in audit_kinds(pg_url, rid) for rid in ids)
                and all(i.state == "delivered" for i in outbox(pg_url)),
                timeout=60,
                description="the policy's decisions and their effects",
            )
            target_a, target_b = job_runs(a.url) + 5, job_runs(b.url) + 5
            wait_for(
                lambda: job_runs(a.url) >= target_a and job_runs(b.url) >= target_b,
                timeout=60,
                description="five more scans on each replica",
            )

    with service_for(pg_url) as svc, svc.uow() as uow:
        for rid in ids:
            decided = [r for r in uow.audit.records(rid) if r.kind == "decided"]
            assert [(r.actor, r.data["policy"]) for r in decided] == [("system:auto", "*")]
    effects = [i.key for i in outbox(pg_url)]
    assert len(effects) == len(set(effects))
    assert sum(1 for k in effects if k.endswith(":log_decision")) == len(ids)
    assert sum(1 for k in effects if k.endswith(":launch_promotion")) == len(ids)
    assert all(n == 1 for n in hook.acked.values()), hook.acked
