"""The scripted CLI session of the approval core, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.e2e.cli import Cli
from tests.support.pictures import b64, png

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "config.yaml"


@pytest.fixture
def cli(db_url, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


@pytest.fixture
def real_cli(db_url, tmp_path) -> Cli:
    """The installed entry point in its own process."""
    return Cli(db_url, tmp_path, subprocess=True)


def tamper(db_url: str, sql: str) -> None:
    """Change the database behind the bot's back, with the database's own shell."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        cmd = ["sqlite3", str(url.database), sql]
    else:
        cmd = [
            "psql",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            str(url.database),
            "-c",
            sql,
        ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def submit(cli: Cli, tmp_path: Path, **fields) -> str:
    body = json.loads((ROOT / "examples" / "request.json").read_text())
    body.update(fields)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    return json.loads(cli.ok("submit", "-f", str(path), "--format", "json"))["id"]


def history(cli: Cli) -> list:
    return json.loads(cli.ok("audit", "--format", "json"))


def test_scripted_session(real_cli, tmp_path, db_url):
    cli = real_cli
    assert "migration head" in cli.ok("migrate")
    assert "8 change(s) applied" in cli.ok("apply", "-f", str(CONFIG))
    assert cli.ok("apply", "-f", str(CONFIG)).strip() == "no changes"

    rid = submit(cli, tmp_path, requested_by="bob")
    pending = json.loads(cli.ok("pending", "--format", "json"))
    assert [p["id"] for p in pending] == [rid]
    assert pending[0]["gates"][2]["no_champion"] is True

    assert "still pending: needs 1 more from sre" in cli.ok("approve", rid, "--as", "alice")

    before = history(cli)
    assert "alice already voted approve" in cli.fails("approve", rid, "--as", "alice")
    assert "dave is not a known person" in cli.fails("approve", rid, "--as", "dave")
    assert "bob requested churn-classifier v7 and may not approve it" in cli.fails(
        "approve", rid, "--as", "bob"
    )
    assert "a reason is required to reject" in cli.fails("reject", rid, "--as", "carol")
    assert "unknown approval request 'nope'" in cli.fails("approve", "nope", "--as", "carol")
    assert history(cli) == before, "a refused command wrote something"

    assert f"request {rid} is now approved" in cli.ok(
        "approve", rid, "--as", "carol", "--comment", "p99 fine"
    )
    assert "already approved" in cli.fails("reject", rid, "--as", "alice", "--reason", "late")

    shown = json.loads(cli.ok("show", rid, "--format", "json"))
    assert shown["state"] == "approved"
    assert [(v["person"], v["vote"], v["channel"]) for v in shown["votes"]] == [
        ("alice", "approve", "cli"),
        ("carol", "approve", "cli"),
    ]
    assert shown["reason"].startswith("quorum met")
    assert all(q["met"] for q in shown["quorum"])

    (entry,) = history(cli)
    assert [h["kind"] for h in entry["history"]] == ["submitted", "voted", "voted", "decided"]
    assert entry["history"][-1]["actor"] == "alice,carol"

    assert "audit log intact" in cli.ok("audit", "verify")
    csv_out = cli.ok("audit", "--format", "csv", "--approver", "carol").splitlines()
    assert csv_out[0].startswith("id,model,version,state")
    assert len(csv_out) == 2 and rid in csv_out[1]
    assert "no matching requests" in cli.ok("audit", "--decision", "rejected")

    tamper(
        db_url, "UPDATE audit_events SET actor = 'mallory' WHERE kind = 'voted' AND actor = 'carol'"
    )
    line = cli.fails("audit", "verify")
    assert "event #4 (voted" in line and "edited" in line


def test_pending_and_audit_as_tables(cli, tmp_path):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    assert cli.ok("pending").strip() == "no pending requests"
    rid = submit(cli, tmp_path, requested_by="bob")
    table = cli.ok("pending")
    assert table.splitlines()[0].split()[:3] == ["id", "model", "version"]
    assert rid in table
    assert rid in cli.ok("show", rid)
    assert "latency_p99_ms = 2.34 <= 100 passed" in cli.ok("show", rid)


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        ("DELETE FROM audit_events WHERE seq = 3", "event #4 (voted"),
        ("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)", "deleted"),
        (
            "INSERT INTO audit_events (seq, at, kind, actor, request_id, data, prev_hash, hash) "
            "SELECT max(seq) + 1, max(at), 'voted', 'mallory', max(request_id), '{}', "
            "max(hash), max(hash) FROM audit_events",
            "event #6 (voted",
        ),
        ('UPDATE audit_events SET data = \'{"vote": "reject"}\' WHERE seq = 3', "edited"),
    ],
    ids=["delete-middle", "delete-tail", "insert", "edit-data"],
)
def test_audit_verify_names_the_first_bad_event(cli, tmp_path, db_url, sql, expect):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    rid = submit(cli, tmp_path, requested_by="bob")
    cli.ok("approve", rid, "--as", "alice")
    cli.ok("reject", rid, "--as", "carol", "--reason", "shadow test too short")
    assert "intact: 5 events" in cli.ok("audit", "verify")
    tamper(db_url, sql)
    line = Cli(db_url, tmp_path, subprocess=True).fails("audit", "verify")
    assert line.startswith("error: audit log tampered: event #")
    assert expect in line


def test_bad_inputs_name_the_problem(cli, tmp_path):
    cli.ok("migrate")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "people:\n  alice: {slack: U1ALICE}\n  bob: {slack: U1ALICE}\n"
        "groups:\n  leads: [alice]\npolicies:\n  - model: '*'\n"
        "    rules: [{group: nobody}]\n    deadline: soon\n"
    )
    res = cli("apply", "-f", str(bad))
    assert res.code != 0
    assert "people.bob.slack: U1ALICE is already alice's slack id" in res.err
    assert "policies[0].rules[0].group: unknown group 'nobody'" in res.err
    assert "policies[0].deadline: bad duration 'soon'" in res.err
    assert json.loads(cli.ok("pending", "--format", "json")) == []
    cli.ok("apply", "-f", str(CONFIG))
    assert "no changes" in cli.ok("apply", "-f", str(CONFIG)), "the bad file applied nothing"

    body = tmp_path / "req.json"
    body.write_text(json.dumps({"model_name": "iris-classifier", "requested_by": "bob"}))
    assert "model_version: required field is missing" in cli.fails("submit", "-f", str(body))
    body.write_text("{not json")
    assert "not valid JSON" in cli.fails("submit", "-f", str(body))
    assert "not a date" in cli("audit", "--since", "yesterday").err


def test_unmigrated_database_is_named(cli):
    assert "run `approval-bot migrate`" in cli.fails("pending")


def test_token_create_prints_once_and_stores_a_hash(cli, db_url):
    cli.ok("migrate")
    token = cli.ok("token", "create", "staging", "--scope", "submit").strip()
    assert token.startswith("abt_") and len(token) > 40
    assert "already exists" in cli.fails("token", "create", "staging", "--scope", "read")
    from sqlalchemy import create_engine, text

    from bot.adapters.db import normalise_url

    engine = create_engine(normalise_url(db_url))
    with engine.connect() as conn:
        stored = conn.execute(text("select token_hash from api_tokens")).scalar_one()
    engine.dispose()
    assert token not in stored and len(stored) == 64


def test_unreachable_database_is_one_clear_line_without_the_password(tmp_path):
    from tests.support.processes import free_port

    cli = Cli(f"postgresql://bot:s3cret-pw@127.0.0.1:{free_port()}/approvals", tmp_path)
    line = cli.fails("pending")
    assert line.startswith("error: cannot use the database postgresql://bot:***@127.0.0.1:")
    assert "s3cret-pw" not in line


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APPROVAL_BOT_DATABASE_URL", "garbage"),
        ("APPROVAL_BOT_DATABASE_URL", "mysql://bot@db/approvals"),
        ("APPROVAL_BOT_SWEEP_SECONDS", "soon"),
        ("APPROVAL_BOT_LOG_FORMAT", "xml"),
    ],
)
def test_bad_settings_are_one_line_naming_the_variable(tmp_path, name, value):
    cli = Cli(f"sqlite:///{tmp_path}/bot.db", tmp_path)
    cli.env[name] = value
    for command in ("migrate", "pending"):
        assert cli.fails(command).startswith(f"error: {name}: ")


def test_an_approval_without_a_launcher_waits_visibly(cli, tmp_path):
    """`make run` without MLflow: the launch is never "delivered"; `show` says why it waits."""
    cli.env.update({"APPROVAL_BOT_LAUNCHER": "local", "MLFLOW_TRACKING_URI": ""})
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    rid = submit(cli, tmp_path, requested_by="bob")
    cli.ok("approve", rid, "--as", "alice")
    cli.ok("approve", rid, "--as", "carol")
    assert "0 dead-lettered, 2 waiting" in cli.ok("outbox", "deliver")  # log, launch
    shown = cli.ok("show", rid)
    assert (
        "kfp.launch_promotion: waiting: promotion launcher not configured "
        "(APPROVAL_BOT_LAUNCHER=local needs MLFLOW_TRACKING_URI)"
    ) in shown
    assert "mlflow.log_decision: waiting: MLflow is not configured (MLFLOW_TRACKING_URI)" in shown
    waiting = json.loads(cli.ok("outbox", "list", "--state", "waiting", "--format", "json"))
    assert {i["kind"] for i in waiting} == {"kfp.launch_promotion", "mlflow.log_decision"}


def test_votes_are_told_in_plain_words(cli, tmp_path):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    rid = submit(cli, tmp_path, requested_by="bob")
    assert cli.ok("approve", rid, "--as", "alice").startswith(f"alice approved {rid} ")
    out = cli.ok("reject", rid, "--as", "carol", "--reason", "too slow")
    assert out.startswith(f"carol rejected {rid} ") and "rejectd" not in out


def test_serve_and_demo_help_list_the_environment_they_need(cli):
    serve = cli.ok("serve", "--help")
    for name in (
        "APPROVAL_BOT_DATABASE_URL",
        "APPROVAL_BOT_CONSOLE_LOCAL_EMAIL",
        "MLFLOW_TRACKING_URI",
    ):
        assert name in serve
    demo = cli.ok("demo", "--help")
    for name in ("MLFLOW_TRACKING_URI", "APPROVAL_BOT_URL", "APPROVAL_BOT_API_TOKEN"):
        assert name in demo
    assert "docs/configuration.md" in serve and "docs/configuration.md" in demo
    assert "README.md" in cli.ok("submit", "--help")


def test_the_default_database_is_resolved_once_and_named(tmp_path):
    """`cd /tmp && approval-bot pending` used to look for (and create) /tmp/var/…"""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli = Cli("", elsewhere, subprocess=True)
    cli.env["APPROVAL_BOT_DATA_DIR"] = str(tmp_path / "data")
    line = cli.fails("pending")
    assert f"the database sqlite:///{tmp_path}/data/approval-bot.db has no schema yet" in line
    assert "run `approval-bot migrate`" in line
    assert not (elsewhere / "var").exists()
    cli.ok("migrate")
    assert "no pending requests" in cli.ok("pending")


def test_audit_writes_page_by_page_with_a_limit(cli, tmp_path):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    ids = [
        submit(cli, tmp_path, model_name=f"m{i}", model_version="1", requested_by="bob")
        for i in range(3)
    ]
    everything = json.loads(cli.ok("audit", "--format", "json"))
    assert [r["id"] for r in everything] == ids
    assert all(r["history"][0]["kind"] == "submitted" for r in everything)
    assert json.loads(cli.ok("audit", "--format", "json", "--model", "none")) == []
    assert cli.ok("audit", "--format", "csv", "--limit", "2").splitlines()[1:] != []
    assert len(cli.ok("audit", "--format", "csv", "--limit", "2").splitlines()) == 3
    res = cli("audit", "--limit", "2")
    assert res.code == 0 and ids[0] in res.out and ids[2] not in res.out
    assert "the first 2" in res.err


def test_history_lists_the_last_requests_newest_first_like_the_chat_command(cli, tmp_path):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    assert cli.ok("history").strip() == "no requests yet"
    churn = submit(cli, tmp_path, requested_by="bob")
    cli.ok("reject", churn, "--as", "carol", "--reason", "shadow test too short")
    first = submit(cli, tmp_path, model_name="iris-classifier", model_version="1")
    second = submit(cli, tmp_path, model_name="iris-classifier", model_version="2")

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in json.loads(cli.ok("history", *args, "--format", "json"))]

    assert ids() == [second, first, churn]
    assert ids("iris-classifier") == [second, first]
    assert ids("1") == [second]
    assert ids("churn-classifier", "5") == [churn]
    assert ids("no-such-model") == []
    table = cli.ok("history").splitlines()
    assert table[0].split() == [
        "id",
        "model",
        "version",
        "state",
        "created",
        "decided",
        "by",
        "reason",
    ]
    assert table[1].split()[:4] == [second, "iris-classifier", "2", "pending"]
    assert "superseded" in table[2]  # v2 superseded v1
    assert table[3].startswith(churn) and "rejected" in table[3] and "carol" in table[3]
    assert "shadow test too short" in table[3]
    res = cli("history", "iris-classifier", "many")
    assert res.code == 2 and "'many' is not a number (history [MODEL] [N])" in res.err


@pytest.mark.parametrize(
    ("args", "typo", "meant"),
    [
        (["pendng"], "pendng", "pending"),
        (["histroy"], "histroy", "history"),
        (["aprove", "X", "--as", "bob"], "aprove", "approve"),
        (["audit", "verfy"], "verfy", "verify"),
        (["outbox", "retyr", "1"], "retyr", "retry"),
    ],
)
def test_a_mistyped_command_gets_did_you_mean(cli, args, typo, meant):
    res = cli(*args)
    assert res.code == 2
    assert f"Error: No such command '{typo}'. Did you mean '{meant}'?" in res.err
    assert "Traceback" not in res.err


def test_a_command_like_nothing_gets_no_guess(cli):
    res = cli("frobnicate")
    assert res.code == 2
    assert "No such command 'frobnicate'." in res.err and "Did you mean" not in res.err


def test_serve_refuses_a_bad_audit_key_and_a_signed_log_without_its_key(real_cli, tmp_path):
    """docs/audit-log.md: a malformed key stops every command with one line (never the
    secret); once the log is signed, `serve` without the key refuses to start."""
    real_cli.ok("migrate")
    real_cli.env["APPROVAL_BOT_AUDIT_KEY"] = "2026-01:tiny"
    line = real_cli.fails("serve", "--port", "1")
    assert line.startswith("error: APPROVAL_BOT_AUDIT_KEY: the secret of key '2026-01' must be")
    assert "tiny" not in line
    real_cli.env["APPROVAL_BOT_AUDIT_KEY"] = "2026-01:" + "s" * 44
    real_cli.ok("apply", "-f", str(CONFIG))
    assert "Every event is signed with the audit key." in real_cli.ok("audit", "verify")
    del real_cli.env["APPROVAL_BOT_AUDIT_KEY"]
    line = real_cli.fails("serve", "--port", "1")
    assert line == (
        "error: the audit log is signed from event #1 on, but APPROVAL_BOT_AUDIT_KEY is not "
        "set here: set it (the same key as the other replicas; docs/audit-log.md) so that "
        "nothing is written unsigned"
    )


def test_show_lists_the_evidence_with_sizes_and_hashes(cli, tmp_path):
    cli.ok("migrate")
    cli.ok("apply", "-f", str(CONFIG))
    picture = png(40, 20)
    evidence = [{"data": b64(picture), "alt": "p99 2.7 ms against a 100 ms threshold."}]
    rid = submit(cli, tmp_path, requested_by="bob", evidence=evidence)
    shown = cli.ok("show", rid)
    digest = hashlib.sha256(picture).hexdigest()
    assert f"#0 image/png 40×20 px, {len(picture)} bytes, sha256 {digest}" in shown
    assert "p99 2.7 ms against a 100 ms threshold." in shown
    listed = json.loads(cli.ok("show", rid, "--format", "json"))["evidence"]
    assert [(e["sha256"], e["size"]) for e in listed] == [(digest, len(picture))]
    bad = [{"data": b64(picture[:-30]), "alt": "cut"}]
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                **json.loads((ROOT / "examples" / "request.json").read_text()),
                "staging_run_id": "other",
                "evidence": bad,
            }
        )
    )
    assert "evidence[0].data: truncated PNG" in cli.fails("submit", "-f", str(path))
