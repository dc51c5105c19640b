"""A policy's canary (docs/kserve.md, "Canary"): applied and stored with the policy, refused
without APPROVAL_BOT_PROMETHEUS_URL, kept on the requests submitted under it. On the
in-memory fakes, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.domain.errors import ConfigError
from bot.domain.policy import CanarySpec
from bot.service import Services
from tests import builders
from tests.builders import parse_config

CANARY = {"steps": [5, 50, 100], "dwell_seconds": 120}


def with_canary(**canary: object) -> dict:
    return builders.config_dict(policies=builders.policy_patch(canary=canary or CANARY))


def test_a_policy_canary_round_trips_through_apply(service: Services) -> None:
    service.admin.canary_analysis = True

    changes = service.admin.apply(parse_config(with_canary()))

    assert changes
    with service.uow() as uow:
        (policy,) = uow.directory.load().policies
        assert uow.directory.policy_for("iris-classifier") == policy
    assert policy.canary == CanarySpec((5, 50, 100), 120)
    assert service.admin.apply(parse_config(with_canary())) == []  # the same: no change
    assert service.admin.apply(parse_config(with_canary(steps=[10, 100], dwell_seconds=120))) == [
        "~ policy *"
    ]
    assert service.admin.apply(parse_config(builders.config_dict())) == ["~ policy *"]
    with service.uow() as uow:
        (policy,) = uow.directory.load().policies
    assert policy.canary is None


def test_without_prometheus_a_policy_canary_is_refused_in_one_line(service: Services) -> None:
    assert not service.admin.canary_analysis  # APPROVAL_BOT_PROMETHEUS_URL is not set

    for attempt in (service.admin.plan, service.admin.apply):
        with pytest.raises(ConfigError) as refused:
            attempt(parse_config(with_canary()))
        message = str(refused.value)
        assert "\n" not in message
        assert "'*' asks for a canary" in message
        assert "needs APPROVAL_BOT_PROMETHEUS_URL" in message
    with service.uow() as uow:
        assert uow.directory.load().policies == ()  # nothing applied

    service.admin.apply(parse_config(builders.config_dict()))  # no canary: fine
    service.admin.refuse_canaries_without_analysis()


def test_serve_refuses_a_stored_policy_canary_without_prometheus(service: Services) -> None:
    service.admin.canary_analysis = True
    service.admin.apply(parse_config(with_canary()))  # by a process with Prometheus

    service.admin.canary_analysis = False  # this one has none
    with pytest.raises(ConfigError, match="needs APPROVAL_BOT_PROMETHEUS_URL"):
        service.admin.refuse_canaries_without_analysis()


def test_a_request_keeps_the_canary_its_policy_asked_for(service: Services) -> None:
    service.admin.canary_analysis = True
    service.admin.apply(parse_config(with_canary()))
    body = builders.submission(promotion={"parameters": {"ready_timeout_seconds": 900}})

    rid = service.commands.submit(body).request.id
    service.admin.apply(parse_config(builders.config_dict()))  # later changes leave it

    request = service.queries.get(rid)
    assert request.promotion == {
        "parameters": {"ready_timeout_seconds": 900},
        "canary": {"steps": [5, 50, 100], "dwell_seconds": 120},
    }
    with service.uow() as uow:
        submitted = next(r for r in uow.audit.records(rid) if r.kind == "submitted")
    assert submitted.data["canary"] == {"steps": [5, 50, 100], "dwell_seconds": 120}

    plain = service.commands.submit(
        builders.submission(model_version="8", staging_run_id="kfp-staging-8")
    ).request
    assert "canary" not in plain.promotion


def test_apply_from_the_cli_refuses_a_canary_without_prometheus(db_url, tmp_path) -> None:
    import yaml

    from tests.e2e.cli import Cli
    from tests.support.bot_server import prepare_database

    prepare_database(db_url)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(with_canary()))
    cli = Cli(db_url, tmp_path)

    line = cli.fails("apply", "-f", str(path))

    assert line.startswith("error: the policy for '*' asks for a canary, which needs ")
    assert "APPROVAL_BOT_PROMETHEUS_URL" in line and "\n" not in line.strip()
    cli.env["APPROVAL_BOT_PROMETHEUS_URL"] = "http://prometheus.monitoring:9090"
    assert "applied" in cli.ok("apply", "-f", str(path))
