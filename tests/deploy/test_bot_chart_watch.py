"""charts/approval-bot's ``watch.*`` values (docs/watch.md): the settings the bot reads, and a
Role granting `get` on exactly the watched InferenceServices, rendered by the real helm."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy import helm
from tests.deploy.helm import BOT_CHART, Rendered, template
from tests.support import kube_schemas

WATCHED = [
    "watch.enabled=true",
    "mlflow.trackingUri=http://mlflow.mlflow.svc:5000",
    "promotion.namespace=models",
    "watch.intervalSeconds=30",
    "watch.models={iris-classifier,wine=ml/wine-serving,beer=ml/beer-serving}",
]


@pytest.fixture(scope="module")
def watched() -> Rendered:
    return template(BOT_CHART, set_values=WATCHED)


def test_the_watched_objects_are_valid(watched: Rendered) -> None:
    assert [p for obj in watched.objects for p in kube_schemas.problems(obj)] == []
    assert "0 chart(s) failed" in helm.run(
        "lint", "--strict", str(BOT_CHART), *(a for v in WATCHED for a in ("--set", v))
    )


def test_the_bot_may_get_the_watched_inference_services_and_nothing_else(
    watched: Rendered,
) -> None:
    pod = watched.one("Deployment")["spec"]["template"]["spec"]
    roles = {r["metadata"]["namespace"]: r for r in watched.all("Role")}
    assert set(roles) == {"models", "ml"}
    assert roles["models"]["rules"] == [
        {
            "apiGroups": ["serving.kserve.io"],
            "resources": ["inferenceservices"],
            "resourceNames": ["iris-serving"],  # the promotion target
            "verbs": ["get"],
        }
    ]
    assert roles["ml"]["rules"][0]["resourceNames"] == ["wine-serving", "beer-serving"]
    bindings = {b["metadata"]["namespace"]: b for b in watched.all("RoleBinding")}
    assert set(bindings) == {"models", "ml"}
    for namespace, binding in bindings.items():
        assert binding["roleRef"]["name"] == roles[namespace]["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "approvals"}
        ]
    assert watched.all("ClusterRole") == [] and watched.all("ClusterRoleBinding") == []


@pytest.mark.parametrize(
    "assignments", [[], [*WATCHED, "watch.rbac.create=false"]], ids=["off", "opted-out"]
)
def test_no_role_unless_the_watch_is_on(assignments: list[str]) -> None:
    rendered = template(BOT_CHART, set_values=assignments)
    assert rendered.all("Role") == []
    [container] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in container["env"]}
    assert ("APPROVAL_BOT_WATCH" in names) == bool(assignments)


def test_the_values_reach_the_watch_by_the_names_it_reads(
    watched: Rendered, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """values → the pod's environment → the watch's settings and targets, which name exactly
    the InferenceServices the Roles let it read."""
    from bot.adapters.watch.settings import WatchSettings, validated_targets
    from bot.settings import load_settings, validated

    [container] = watched.one("Deployment")["spec"]["template"]["spec"]["containers"]
    monkeypatch.chdir(tmp_path)  # no .env
    for item in container["env"]:
        if "value" in item:
            monkeypatch.setenv(item["name"], item["value"])
    watch = validated(WatchSettings)
    assert (watch.enabled, watch.seconds) == (True, 30.0)
    targets = validated_targets(watch, load_settings(), local=False)
    granted = {
        f"{r['metadata']['namespace']}/{name}"
        for r in watched.all("Role")
        for name in r["rules"][0]["resourceNames"]
    }
    assert {t.service for t in targets} == granted
    assert [t.model for t in targets] == ["iris-classifier", "wine", "beer"]


@pytest.mark.parametrize(
    ("assignments", "said"),
    [
        (["watch.enabled=true", "mlflow.trackingUri=http://m:5000"], "watch.models is required"),
        (["watch.enabled=true", "watch.models={iris}"], "mlflow.trackingUri is required"),
        (["watch.models={iris=Models/x}"], "watch"),  # the schema: not a namespace
    ],
)
def test_a_watch_that_cannot_work_fails_naming_what_to_set(
    assignments: list[str], said: str
) -> None:
    with pytest.raises(helm.HelmError, match=said):
        template(BOT_CHART, set_values=assignments)
