"""Staging gates, the submission body, and the notification against a fake bot on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.kfp.params import TARGET
from bot.domain.gates import NO_CHAMPION, GateResult
from bot.service.schemas import SubmissionIn
from pipelines import runner
from pipelines.errors import ConfigurationError
from pipelines.steps import approvals, staging
from pipelines.steps.promotion import TARGET_PARAMETERS
from tests.pipelines.fakes import FakeApprovalBot
from tests.support.http_fake import FakeHttpServer, Recorded
from tests.support.processes import free_port


@pytest.fixture
def fake_bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApprovalBot]:
    with FakeApprovalBot() as fake:
        for key, value in fake.env.items():
            monkeypatch.setenv(key, value)
        yield fake


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approvals, "BACKOFF_SECONDS", 0.0)


def body(**overrides: Any) -> dict[str, Any]:
    gates = staging.evaluate_gates(
        latency_p99_ms=2.3456,
        disagreement_rate=0.0,
        challenger_accuracy=0.96666,
        champion_accuracy=-1.0,
    )
    fields: dict[str, Any] = {
        "model_name": "iris-classifier",
        "model_version": "3",
        "challenger_run_id": "run-c",
        "data_run_id": "run-d",
        "staging_run_id": "kfp-run-1",
        "requested_by": "staging-pipeline",
        "gates": gates,
        "links": {"mlflow": "http://mlflow/#/models/iris-classifier/versions/3", "kfp": ""},
    }
    fields.update(overrides)
    return staging.submission_body(**fields)


def test_first_promotion_gates_use_the_sentinel_and_pass() -> None:
    gates = staging.evaluate_gates(
        latency_p99_ms=2.3456,
        disagreement_rate=0.0,
        challenger_accuracy=0.96666,
        champion_accuracy=-1.0,
    )

    assert [(g.name, g.value, g.op, g.threshold, g.passed) for g in gates] == [
        ("latency_p99_ms", 2.346, "<=", 100.0, True),
        ("disagreement_rate", 0.0, "<", 0.05, True),
        ("challenger_accuracy", 0.9667, ">=", -1.0, True),
    ]


@pytest.mark.parametrize(
    ("latency", "disagreement", "challenger", "champion", "failed"),
    [
        (100.0, 0.0, 0.9, 0.9, []),
        (100.0004, 0.0, 0.9, 0.9, []),  # rounds to 100.0: what is shown is what is judged
        (100.01, 0.0, 0.9, 0.9, ["latency_p99_ms"]),
        (1.0, 0.05, 0.9, 0.9, ["disagreement_rate"]),
        (1.0, 0.0, 0.93, 0.9667, ["challenger_accuracy"]),
        (250.0, 0.5, 0.5, 0.9, ["latency_p99_ms", "disagreement_rate", "challenger_accuracy"]),
    ],
)
def test_gate_thresholds(
    latency: float, disagreement: float, challenger: float, champion: float, failed: list[str]
) -> None:
    gates = staging.evaluate_gates(
        latency_p99_ms=latency,
        disagreement_rate=disagreement,
        challenger_accuracy=challenger,
        champion_accuracy=champion,
    )

    assert [g.name for g in gates if not g.passed] == failed


def test_submission_body_has_exactly_the_documented_fields() -> None:
    submitted = body()

    assert set(submitted) == {
        "model_name",
        "model_version",
        "challenger_run_id",
        "data_run_id",
        "staging_run_id",
        "requested_by",
        "gates",
        "links",
        "promotion",
    }
    assert submitted["gates"][0] == {
        "name": "latency_p99_ms",
        "value": 2.346,
        "threshold": 100.0,
        "op": "<=",
        "passed": True,
    }
    assert submitted["promotion"] == {"parameters": {}}


def test_the_promotion_target_a_staging_run_asks_for_goes_in_promotion_parameters() -> None:
    target = {"namespace": "models", "inference_service": "", "storage_uri_prefix": "s3://b/p"}
    asked = body(promotion_target=target)

    assert asked["promotion"] == {
        "parameters": {"namespace": "models", "storage_uri_prefix": "s3://b/p"}
    }
    SubmissionIn.model_validate(asked)  # the bot's API takes it as it is
    with pytest.raises(ConfigurationError, match="not a promotion target parameter: deploy_target"):
        body(promotion_target={"deploy_target": "none"})


def test_staging_and_promotion_name_the_target_alike() -> None:
    """The staging pipeline's target inputs are the promotion pipeline's, by name, and the bot
    fills in the same names from its settings (bot/adapters/kfp/params.py)."""
    staging_inputs = runner.pipeline("staging").component_spec.inputs
    promotion_inputs = runner.pipeline("promotion").component_spec.inputs

    for name in TARGET_PARAMETERS:
        assert name in staging_inputs and name in promotion_inputs, name
        assert staging_inputs[name].default == "", "empty: the bot's configured target"
    assert set(TARGET) == set(TARGET_PARAMETERS)


def test_notify_posts_with_the_bearer_token_and_returns_the_request_id(
    fake_bot: FakeApprovalBot,
) -> None:
    request_id = staging.notify(body())

    assert request_id == "req0001"
    [post] = [r for r in fake_bot.requests if r.method == "POST"]
    assert post.path == "/api/v1/approvals"
    assert post.headers["authorization"] == f"Bearer {fake_bot.token}"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == body()


def test_notifying_the_same_staging_run_again_returns_the_same_request(
    fake_bot: FakeApprovalBot,
) -> None:
    assert staging.notify(body()) == staging.notify(body())
    assert len(fake_bot.approvals) == 1


def test_rejected_token_is_logged_and_yields_an_empty_id(
    fake_bot: FakeApprovalBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "wrong")

    assert staging.notify(body()) == ""
    assert "answered 401" in caplog.text
    assert len([r for r in fake_bot.requests if r.method == "POST"]) == 1  # 4xx: no retry


def test_unreachable_bot_is_logged_and_yields_an_empty_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("APPROVAL_BOT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "t")

    assert staging.notify(body()) == ""
    assert "could not notify the approval bot" in caplog.text


def test_missing_bot_settings_are_logged_and_yield_an_empty_id(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("APPROVAL_BOT_URL", raising=False)

    assert staging.notify(body()) == ""
    assert "APPROVAL_BOT_URL is not set" in caplog.text


def test_server_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([(503, {"detail": "starting"}), (201, {"id": "abc", "state": "pending"})])

    def handler(request: Recorded) -> tuple[int, Any]:
        return next(answers)

    flaky = FakeHttpServer()
    flaky.route("POST", "/api/v1/approvals", handler)
    with flaky:
        monkeypatch.setenv("APPROVAL_BOT_URL", flaky.url)
        monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "t")

        assert staging.notify(body()) == "abc"
        assert len(flaky.requests) == 2


@given(
    latency=st.floats(0, 1000, allow_nan=False),
    disagreement=st.floats(0, 1, allow_nan=False),
    challenger=st.floats(0, 1, allow_nan=False),
    champion=st.one_of(st.just(staging.NO_CHAMPION), st.floats(0, 1, allow_nan=False)),
)
@settings(max_examples=200, deadline=None, derandomize=True)
def test_the_bot_reaches_the_same_verdict_as_the_staging_pipeline(
    latency: float, disagreement: float, challenger: float, champion: float
) -> None:
    """The bot judges gates itself and refuses a submitted ``passed`` that disagrees: the
    pipeline's body must pass that check, with the same verdicts, sentinel included."""
    submitted = body(
        gates=staging.evaluate_gates(
            latency_p99_ms=latency,
            disagreement_rate=disagreement,
            challenger_accuracy=challenger,
            champion_accuracy=champion,
        )
    )
    accepted = SubmissionIn.model_validate(json.loads(json.dumps(submitted)))
    judged = [GateResult(**g.model_dump()) for g in accepted.gates]
    assert [(g.name, g.passed) for g in judged] == [
        (g["name"], g["passed"]) for g in submitted["gates"]
    ]
    assert staging.NO_CHAMPION == NO_CHAMPION
