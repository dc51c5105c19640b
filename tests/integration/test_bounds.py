"""Numbers from outside stay within bounds: durations in the config, settings, ids. Nothing a
person can type reaches an arithmetic overflow (a 500, or a crash) further in."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient

from bot.bootstrap import build
from bot.domain import errors
from bot.domain.backoff import retry_delay
from bot.domain.directory import Directory
from bot.domain.errors import ConfigError
from bot.entrypoints.http import create_app
from bot.settings import Settings, load_settings
from tests import builders
from tests.builders import parse_config
from tests.e2e.cli import Cli
from tests.support.bot_server import prepare_database, service_for


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("deadline", "600000w"),
        ("deadline", "999999999w"),
        ("remind_every", "53w"),
        ("escalate_after", "366d"),
    ],
)
def test_apply_refuses_a_duration_over_a_year_in_one_line(db_url, tmp_path, field, value):
    prepare_database(db_url)
    raw = builders.config_dict(policies=builders.policy_patch(**{field: value}))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    line = Cli(db_url, tmp_path).fails("apply", "-f", str(path))
    assert line == (
        f"error: {path}: policies[0].{field}: duration {value!r} is longer than the maximum, "
        "365d (one year)"
    )
    with service_for(db_url) as svc:
        assert svc.admin.plan(builders.directory()) == [], "nothing was applied"


def test_a_year_is_accepted_and_a_submission_gets_its_deadline(service, clock):
    service.admin.apply(
        parse_config(builders.config_dict(policies=builders.policy_patch(deadline="365d")))
    )
    request = service.commands.submit(builders.submission()).request
    assert request.deadline_at == clock.now() + timedelta(days=365)


@pytest.mark.parametrize("service", ["memory", "sqlite"], indirect=True)
def test_a_policy_stored_before_the_bound_is_a_clear_refusal_not_a_500(service):
    # SQLite kept whatever `apply` wrote before the bound (PostgreSQL's INTEGER refused it).
    d = builders.directory()
    huge = replace(d.policies[0], deadline=timedelta(weeks=600000))
    service.admin.apply(Directory(d.people, d.groups, (huge,)))
    with pytest.raises(errors.InvalidRequest, match=r"too far in the future .*apply the config"):
        service.commands.submit(builders.submission())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APPROVAL_BOT_SWEEP_SECONDS", "1e300"),
        ("APPROVAL_BOT_SWEEP_SECONDS", "inf"),
        ("APPROVAL_BOT_POLL_SECONDS", "nan"),
        ("APPROVAL_BOT_OUTBOX_CAP_SECONDS", "1e300"),
        ("APPROVAL_BOT_OUTBOX_BASE_SECONDS", "86401"),
        ("APPROVAL_BOT_OUTBOX_LEASE_SECONDS", "1e300"),
        ("APPROVAL_BOT_OUTBOX_MAX_ATTEMPTS", "100000"),
    ],
)
def test_runtime_settings_have_an_upper_bound(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{name}: ")
    assert "\n" not in str(info.value)


def test_the_retry_delay_never_overflows():
    # 2 ** 1100 used to overflow float() once an effect had failed that many times.
    assert retry_delay(1100, base=2.0, cap=300.0, jitter=0.5) == timedelta(seconds=300)
    assert retry_delay(10**6, base=3600.0, cap=86400.0, jitter=0.99).days == 1


@pytest.mark.parametrize("telegram", [2**52, 2**63, 2**200])
def test_a_telegram_id_past_52_bits_is_refused_before_the_database(telegram):
    raw = builders.config_dict()
    raw["people"]["alice"]["telegram"] = telegram
    with pytest.raises(ConfigError, match=r"people\.alice\.telegram: .* is not a Telegram user id"):
        parse_config(raw)


def test_a_number_too_long_to_read_is_a_422_naming_it(sqlite_url):
    """Python reads at most 4300 digits of an integer: past that the body used to be a bare
    400 "There was an error parsing the body"."""
    prepare_database(sqlite_url)
    settings = Settings(
        database_url=sqlite_url, launcher="none", mlflow_tracking_uri=None, api_token="t" * 40
    )
    client = TestClient(create_app(build(settings)))
    body = builders.submission().model_dump_json()
    raw = body.replace('"parameters":{}', '"parameters":{"x":1' + "0" * 5000 + "}")
    assert raw != body
    response = client.post(
        "/api/v1/approvals",
        content=raw,
        headers={"Authorization": "Bearer " + "t" * 40, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {"path": "(body)", "message": "holds a number of more than 4300 digits"}
    ]
