"""Least-privilege API tokens, through the real ASGI app on SQLite and PostgreSQL: each scope
is refused where it must be (403 naming the missing scope), a submit token submits only as the
names it was made for, tokens expire and are revoked, every submission and outbox retry says
in the audit log which token acted, and tokens made before scopes still work as admin."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from bot.adapters.db import make_engine
from bot.adapters.db.migrate import alembic_config
from bot.bootstrap import build
from bot.domain.names import EventKind
from bot.domain.tokens import Scope
from bot.entrypoints.http import create_app
from bot.service.admin import hash_token
from bot.service.views import event_summary
from bot.settings import Settings
from tests import builders
from tests.e2e.cli import Cli
from tests.support.bot_server import prepare_database, service_for

BOOTSTRAP = "bootstrap-token-for-the-scope-tests-0123"
SUBMIT, READ, ADMIN = (frozenset({s}) for s in (Scope.SUBMIT, Scope.READ, Scope.ADMIN))


class Api:
    """The app in process, the database it uses, and tokens made the way `token create` does."""

    def __init__(self, db_url: str, **settings: Any) -> None:
        self.db_url = db_url
        fields = {"database_url": db_url, "launcher": "none", "mlflow_tracking_uri": None}
        fields |= {"api_token": BOOTSTRAP, **settings}
        self.container = build(Settings(**fields))
        self.client = TestClient(create_app(self.container))

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.container.close()

    def token(self, name: str, scopes: frozenset[Scope], **options: Any) -> str:
        with service_for(self.db_url) as svc:
            return svc.admin.create_token(name, scopes, **options)

    def call(self, token: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        return self.client.request(method, path, headers=headers, **kw)

    def submit(self, token: str, **fields: Any) -> Any:
        body = json.loads(builders.submission(**fields).model_dump_json())
        return self.call(token, "POST", "/api/v1/approvals", json=body)

    def events(self, kind: EventKind) -> list[Any]:
        with service_for(self.db_url) as svc, svc.uow() as uow:
            return [r for r in uow.audit.records() if r.kind == kind]


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    prepare_database(db_url)
    with Api(db_url) as api:
        yield api


def forbidden(response: Any, scope: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "forbidden"
    assert f"lacks the '{scope}' scope" in body["message"]


def an_outbox_item(api: Api) -> int:
    with service_for(api.db_url) as svc, svc.uow() as uow:
        return uow.outbox.items(limit=1)[0].id


def test_a_read_token_reads_and_can_neither_submit_nor_retry(api):
    api.submit(api.token("setup", SUBMIT), staging_run_id="r1")
    reader = api.token("dashboard", READ)
    assert api.call(reader, "GET", "/api/v1/approvals").status_code == 200
    assert api.call(reader, "GET", "/api/v1/audit").status_code == 200
    assert api.call(reader, "GET", "/api/v1/outbox").status_code == 200
    forbidden(api.submit(reader, staging_run_id="r2"), "submit")
    forbidden(api.call(reader, "POST", f"/api/v1/outbox/{an_outbox_item(api)}/retry"), "admin")


def test_a_submit_token_submits_and_reads_nothing(api):
    submitter = api.token("staging", SUBMIT)
    created = api.submit(submitter)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    forbidden(api.call(submitter, "GET", f"/api/v1/approvals/{rid}"), "read")
    forbidden(api.call(submitter, "GET", f"/api/v1/approvals/{rid}/evidence/0"), "read")
    forbidden(api.call(submitter, "GET", "/api/v1/approvals"), "read")
    forbidden(api.call(submitter, "GET", "/api/v1/audit"), "read")
    forbidden(api.call(submitter, "GET", "/api/v1/outbox"), "read")
    forbidden(api.call(submitter, "POST", f"/api/v1/outbox/{an_outbox_item(api)}/retry"), "admin")


def test_the_scope_is_checked_before_the_input(api):
    """A token without the scope learns nothing about what the route would accept."""
    forbidden(api.call(api.token("ro", READ), "POST", "/api/v1/approvals", json={}), "submit")
    forbidden(api.call(api.token("w", SUBMIT), "POST", f"/api/v1/outbox/{2**80}/retry"), "admin")


def test_every_submission_records_its_token(api):
    first = api.submit(api.token("staging-a", SUBMIT), model_version="3", staging_run_id="s1")
    second = api.submit(api.token("staging-b", SUBMIT), model_version="4", staging_run_id="s2")
    assert first.status_code == second.status_code == 201
    submitted = {r.request_id: r.data for r in api.events(EventKind.SUBMITTED)}
    assert submitted[first.json()["id"]]["token"] == "staging-a"
    assert submitted[second.json()["id"]]["token"] == "staging-b"
    assert isinstance(submitted[second.json()["id"]]["token_id"], int)
    # The second superseded the first: that event says which token caused it too.
    (superseded,) = api.events(EventKind.SUPERSEDED)
    assert superseded.data["token"] == "staging-b"
    api.submit(BOOTSTRAP, model_version="5", staging_run_id="s3")
    assert {"token": "bootstrap", "token_id": None}.items() <= api.events(EventKind.SUBMITTED)[
        -1
    ].data.items()


def test_a_submit_token_submits_only_as_the_names_it_was_made_for(api):
    pinned = api.token("staging", SUBMIT, requested_by=["staging-pipeline"])
    assert api.submit(pinned, requested_by="staging-pipeline").status_code == 201
    for other in ("alice", "staging-pipelіne", "Staging-Pipeline"):  # і: Cyrillic
        refused = api.submit(pinned, requested_by=other, staging_run_id=f"x-{other}")
        assert refused.status_code == 403, other
        assert refused.json()["message"] == (
            f"token 'staging' may submit only as staging-pipeline, not as {other!r}"
        )
    # NFKC: the full-width form is the same name.
    assert (
        api.submit(pinned, requested_by="ｓｔａｇｉｎｇ-pipeline", staging_run_id="fw").status_code
        == 201
    )


def test_the_names_a_token_may_submit_as_follow_the_look_alike_rules(api):
    with service_for(api.db_url) as svc:
        with pytest.raises(Exception, match="mixes the scripts Latin and Cyrillic"):
            svc.admin.create_token("t1", SUBMIT, requested_by=["alіce"])
        with pytest.raises(Exception, match="only matter for a submit token"):
            svc.admin.create_token("t2", READ, requested_by=["alice"])


def test_an_admin_retry_is_audited_with_its_token(api):
    admin = api.token("operator", ADMIN)
    api.submit(admin)
    item = an_outbox_item(api)
    retried = api.call(admin, "POST", f"/api/v1/outbox/{item}/retry")
    assert retried.status_code == 200, retried.text
    (event,) = api.events(EventKind.OUTBOX_RETRIED)
    assert event.actor == "api"
    assert event.data["token"] == "operator" and isinstance(event.data["token_id"], int)
    assert event.data["item"] == item and event.data["kind"] == "chat.post"
    assert event.request_id is not None
    with service_for(api.db_url) as svc:
        request = svc.queries.get(event.request_id)
        shown = {r.kind: event_summary(r) for r in svc.queries.history([request])[request.id]}
    assert shown[EventKind.OUTBOX_RETRIED] == f"chat.post (outbox item {item}) by token operator"
    assert shown[EventKind.SUBMITTED] == "via token operator"


def test_the_cli_retry_is_audited_too(api, tmp_path):
    api.submit(api.token("s", SUBMIT))
    item = an_outbox_item(api)
    Cli(api.db_url, tmp_path).ok("outbox", "retry", str(item))
    (event,) = api.events(EventKind.OUTBOX_RETRIED)
    assert event.actor == "cli" and event.data["item"] == item and "token" not in event.data


def test_the_bootstrap_token_submits_and_reads_but_does_not_retry(api):
    assert api.submit(BOOTSTRAP).status_code == 201
    assert api.call(BOOTSTRAP, "GET", "/api/v1/approvals").status_code == 200
    forbidden(api.call(BOOTSTRAP, "POST", f"/api/v1/outbox/{an_outbox_item(api)}/retry"), "admin")


def test_the_bootstrap_token_can_be_given_other_scopes(db_url):
    prepare_database(db_url)
    with Api(db_url, api_token_scopes="read") as api:
        forbidden(api.submit(BOOTSTRAP), "submit")
        assert api.call(BOOTSTRAP, "GET", "/api/v1/outbox").status_code == 200


def test_an_expired_or_revoked_token_is_refused(api, tmp_path):
    soon = api.token("short-lived", READ, expires_in=timedelta(seconds=1))
    with service_for(api.db_url) as svc, svc.uow() as uow:
        uow.connection.execute(
            text("UPDATE api_tokens SET expires_at = created_at - interval '1 day'")
            if uow.connection.dialect.name == "postgresql"
            else text("UPDATE api_tokens SET expires_at = datetime(created_at, '-1 day')")
        )
        uow.commit()
    expired = api.call(soon, "GET", "/api/v1/approvals")
    assert expired.status_code == 401
    assert "token 'short-lived' expired at" in expired.json()["message"]

    kept = api.token("kept", READ)
    assert api.call(kept, "GET", "/api/v1/approvals").status_code == 200
    Cli(api.db_url, tmp_path).ok("token", "revoke", "kept")
    assert api.call(kept, "GET", "/api/v1/approvals").status_code == 401


def test_a_token_from_before_scopes_works_as_admin_and_warns(db_url, caplog, tmp_path):
    """Migrate to 0007, store a token as 0007 did, migrate to head: it still has every power,
    and using it logs (once) that it should be replaced."""
    from alembic import command

    command.upgrade(alembic_config(db_url), "0007")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_tokens (name, token_hash, created_at) "
                "VALUES ('old-ci', :h, CURRENT_TIMESTAMP)"
            ),
            {"h": hash_token("abt_made-before-scopes")},
        )
    engine.dispose()
    migrated = Cli(db_url, tmp_path)("migrate")
    assert migrated.code == 0
    assert "1 API token(s) made before token scopes act as admin until replaced: old-ci" in (
        migrated.err
    )
    with service_for(db_url) as svc:
        svc.admin.apply(builders.directory())
    with Api(db_url) as api, caplog.at_level(logging.WARNING, logger="bot.admin"):
        assert api.submit("abt_made-before-scopes").status_code == 201
        item = an_outbox_item(api)
        assert (
            api.call("abt_made-before-scopes", "POST", f"/api/v1/outbox/{item}/retry").status_code
            == 200
        )
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.admin"]
    assert len(warnings) == 1 and "'old-ci' was made before token scopes" in warnings[0]
    with service_for(db_url) as svc:
        (old,) = svc.admin.tokens()
    assert old.legacy and old.scopes == {Scope.ADMIN}


def test_token_create_list_revoke_from_the_cli(db_url, tmp_path):
    prepare_database(db_url)
    cli = Cli(db_url, tmp_path)
    secret = cli.ok(
        "token",
        "create",
        "staging",
        "--scope",
        "submit",
        "--requested-by",
        "staging-pipeline",
        "--expires-in",
        "90d",
    ).strip()
    assert secret.startswith("abt_")
    cli.ok("token", "create", "grafana", "--scope", "read")
    listed = {t["name"]: t for t in json.loads(cli.ok("token", "list", "--format", "json"))}
    assert listed["staging"]["scopes"] == ["submit"]
    assert listed["staging"]["requested_by"] == ["staging-pipeline"]
    assert listed["staging"]["expires_at"] is not None and listed["grafana"]["expires_at"] is None
    assert listed["grafana"]["state"] == "active"
    table = cli.ok("token", "list")
    assert "staging" in table and "staging-pipeline" in table and "never" in table
    assert cli.ok("token", "revoke", "grafana").strip() == "token 'grafana' revoked"
    assert json.loads(cli.ok("token", "list", "--format", "json"))[1]["state"] == "revoked"
    assert cli.fails("token", "revoke", "grafana") == (
        "error: no active token named 'grafana' (`token list`)"
    )
    with service_for(db_url) as svc, svc.uow() as uow:
        kinds = [r.kind for r in uow.audit.records()]
    assert kinds.count(EventKind.TOKEN_CREATED) == 2 and EventKind.TOKEN_REVOKED in kinds


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scope", "write"], "unknown scope 'write': use submit, read, admin"),
        (["--scope", "read", "--expires-in", "400d"], "longer than the maximum, 365d"),
    ],
)
def test_bad_token_options_are_one_usage_line(db_url, tmp_path, args, says):
    prepare_database(db_url)
    result = Cli(db_url, tmp_path)("token", "create", "x", *args)
    assert result.code == 2 and says in result.err and "Traceback" not in result.err


def test_token_create_needs_a_scope(db_url, tmp_path):
    prepare_database(db_url)
    result = Cli(db_url, tmp_path)("token", "create", "x")
    assert result.code == 2 and "Missing option '--scope'" in result.err
