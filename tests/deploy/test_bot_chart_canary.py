"""charts/approval-bot's canary values (docs/kserve.md, "Canary"): ``promotion.canary.*`` and
``prometheus.url`` become the settings the bot reads, and the chart refuses, as the bot does,
a canary (the target's, or a policy's in ``config``) without a Prometheus to judge it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import helm
from tests.deploy.helm import BOT_CHART, Rendered, template
from tests.support import kube_schemas

PROMETHEUS = "http://prometheus-operated.monitoring:9090"
VALUES: dict[str, Any] = {
    "promotion": {
        "namespace": "models",
        "canary": {
            "steps": [10, 25, 50, 100],
            "dwellSeconds": 120,
            "checks": {"error_ratio": {"max": 0.01}},
        },
    },
    "prometheus": {"url": PROMETHEUS},
    "config": {
        "people": {"alice": {"email": "alice@example.com"}},
        "groups": {"ml-leads": ["alice"]},
        "policies": [
            {
                "model": "iris-classifier",
                "rules": [{"group": "ml-leads"}],
                "canary": {"steps": [5, 50, 100], "dwell_seconds": 600},
            }
        ],
    },
}


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def env_of(rendered: Rendered) -> dict[str, str]:
    [container] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


@pytest.fixture
def canary(tmp_path: Path) -> Rendered:
    return template(BOT_CHART, values_file(tmp_path, VALUES))


def test_the_canary_values_become_the_bots_settings(
    canary: Rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import load_settings

    assert [p for obj in canary.objects for p in kube_schemas.problems(obj)] == []
    assert "0 chart(s) failed" in helm.run(
        "lint", "--strict", str(BOT_CHART), "--values", str(values_file(tmp_path, VALUES))
    )
    env = env_of(canary)
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().canary_parameters() == {
        "canary_steps": "10,25,50,100",
        "canary_dwell_seconds": 120,
        "prometheus_url": PROMETHEUS,
        "canary_checks": '{"error_ratio":{"max":0.01}}',
    }


def test_the_policy_canary_in_config_is_what_the_bot_applies(canary: Rendered) -> None:
    from tests.builders import parse_config

    config = yaml.safe_load(canary.one("ConfigMap")["data"]["config.yaml"])
    (policy,) = parse_config(config).policies
    assert (policy.canary.steps, policy.canary.dwell_seconds) == ((5, 50, 100), 600)


def test_without_canary_values_the_bot_gets_no_canary_settings() -> None:
    env = env_of(template(BOT_CHART))
    assert not [n for n in env if "CANARY" in n or "PROMETHEUS" in n]


def test_prometheus_alone_serves_the_policies_canaries(tmp_path: Path) -> None:
    values = {**VALUES, "promotion": {"namespace": "models"}}
    env = env_of(template(BOT_CHART, values_file(tmp_path, values)))
    assert env["APPROVAL_BOT_PROMETHEUS_URL"] == PROMETHEUS
    assert "APPROVAL_BOT_PROMOTION_CANARY_STEPS" not in env


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"prometheus": {"url": ""}}, "prometheus.url is required with promotion.canary.steps"),
        (
            {"prometheus": {"url": ""}, "promotion": {"namespace": "models"}},
            'prometheus.url is required: the policy for "iris-classifier" in config asks for a '
            "canary",
        ),
        (
            {"promotion": {"canary": {"steps": [10, 50]}}},
            r"promotion.canary.steps \[10 50\] must end at 100",
        ),
        (
            {"promotion": {"canary": {"steps": [50, 25, 100]}}},
            r"promotion.canary.steps \[50 25 100\] must rise strictly",
        ),
        ({"promotion": {"canary": {"steps": [0, 100]}}}, "/promotion/canary/steps/0"),
        ({"promotion": {"canary": {"dwellSeconds": 0}}}, "/promotion/canary/dwellSeconds"),
        ({"promotion": {"canary": {"checks": {"p99": {"qurey": "x"}}}}}, "qurey"),
        ({"prometheus": {"url": "prometheus:9090"}}, "/prometheus/url"),
    ],
)
def test_a_canary_that_cannot_work_fails_naming_what_to_set(
    tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    values = {**VALUES, **change}
    if "canary" in change.get("promotion", {}):
        values["promotion"] = {
            "canary": {**VALUES["promotion"]["canary"], **change["promotion"]["canary"]}
        }
    with pytest.raises(helm.HelmError, match=said):
        template(BOT_CHART, values_file(tmp_path, values))


def test_the_readmes_canary_values_render_and_apply(tmp_path: Path) -> None:
    """README.md, "Deploy on Kubernetes": the canary example is values the chart takes and
    config the bot applies."""
    from tests.builders import parse_config

    readme = (helm.ROOT / "README.md").read_text()
    start = readme.index("# values.yaml of charts/approval-bot\nprometheus:")
    block = readme[start : readme.index("```", start)]
    values = yaml.safe_load(block)
    rendered = template(BOT_CHART, values_file(tmp_path, values))
    assert env_of(rendered)["APPROVAL_BOT_PROMETHEUS_URL"] == values["prometheus"]["url"]
    config = yaml.safe_load(rendered.one("ConfigMap")["data"]["config.yaml"])
    (policy,) = parse_config(config).policies
    assert policy.canary is not None and policy.canary.steps == (10, 25, 50, 100)
    assert policy.rollback_groups == ("ml-leads", "oncall")
