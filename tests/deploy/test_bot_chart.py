"""charts/approval-bot rendered by the real helm: validity, hardening, secrets, hooks, refusals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import helm
from tests.deploy.helm import BOT_CHART, PRODUCTION_VALUES, ROOT, Rendered, containers, template
from tests.support import kube_schemas

POSTGRES = ["database.type=postgresql", "secrets.databaseUrl=postgresql://u:pw@db:5432/bot"]
SECRET_TOKEN = "tok-3f9a2c"  # a value that must appear in Secrets only


@pytest.fixture(scope="module")
def default() -> Rendered:
    return template(BOT_CHART)


@pytest.fixture(scope="module")
def production() -> Rendered:
    return template(BOT_CHART, PRODUCTION_VALUES)


@pytest.fixture(scope="module")
def postgres() -> Rendered:
    """Chart-managed Secret on PostgreSQL, with every optional object on."""
    return template(
        BOT_CHART,
        set_values=[
            *POSTGRES,
            f"secrets.apiToken={SECRET_TOKEN}",
            "channels.slack.botToken=xoxb-1",
            "publicUrl=https://bot.example.com:8443/base",
            "kfp.launcher=kfp",
            "kfp.host=http://ml-pipeline.kubeflow:8888",
            "promotion.namespace=models",
            "ingress.enabled=true",
            "serviceMonitor.enabled=true",
            "config.people.alice.slack=U01",
        ],
    )


def renders() -> list[Any]:
    return [
        pytest.param(lambda: template(BOT_CHART), id="defaults"),
        pytest.param(lambda: template(BOT_CHART, PRODUCTION_VALUES), id="production"),
        pytest.param(
            lambda: template(
                BOT_CHART,
                set_values=[
                    *POSTGRES,
                    "secrets.apiToken=t",
                    "publicUrl=https://bot.example.com",
                    "ingress.enabled=true",
                    "serviceMonitor.enabled=true",
                    "networkPolicy.egress[0].to[0].ipBlock.cidr=10.0.0.0/8",
                ],
            ),
            id="postgres-chart-secret",
        ),
    ]


@pytest.mark.parametrize(
    "values", [[], ["--values", str(PRODUCTION_VALUES)]], ids=["defaults", "production"]
)
def test_helm_lint_passes(values: list[str]) -> None:
    output = helm.run("lint", "--strict", str(BOT_CHART), *values)

    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("render", renders())
def test_every_rendered_object_is_valid(render: Any) -> None:
    rendered = render()

    assert rendered.objects
    problems = [p for obj in rendered.objects for p in kube_schemas.problems(obj)]
    assert problems == []


def test_the_key_check_catches_a_misspelt_key() -> None:
    monitor = template(BOT_CHART, set_values=["serviceMonitor.enabled=true"]).one("ServiceMonitor")
    monitor["spec"]["endpoints"][0]["intervall"] = monitor["spec"]["endpoints"][0].pop("interval")
    deployment = template(BOT_CHART).one("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True

    assert any("intervall" in p for p in kube_schemas.problems(monitor))
    assert any("readOnlyRootFileSystem" in p for p in kube_schemas.problems(deployment))


def test_defaults_are_a_one_pod_sqlite_trial(default: Rendered) -> None:
    deployment = default.one("Deployment")
    pod = deployment["spec"]["template"]["spec"]

    assert default.kinds() == {
        "Deployment", "Service", "ServiceAccount", "Secret", "PersistentVolumeClaim",
        "NetworkPolicy", "PodDisruptionBudget",
    }  # fmt: skip
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert [c["command"] for c in pod["initContainers"]] == [["approval-bot", "migrate"]]
    assert default.all("Job") == []


def pods(rendered: Rendered) -> list[dict[str, Any]]:
    found = [
        o["spec"]["template"]["spec"] for o in rendered.all("Deployment") + rendered.all("Job")
    ]
    assert found
    return found


@pytest.mark.parametrize("name", ["default", "production", "postgres"])
def test_every_pod_runs_restricted(name: str, request: pytest.FixtureRequest) -> None:
    dockerfile_user = re.findall(r"^USER (\d+)", (ROOT / "Dockerfile").read_text(), re.M)[-1]
    for pod in pods(request.getfixturevalue(name)):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert str(pod["securityContext"]["runAsUser"]) == dockerfile_user
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in containers(pod):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts  # writable scratch on the read-only root


def test_probes_hit_healthz_and_readyz_on_the_served_port(production: Rendered) -> None:
    [container] = production.one("Deployment")["spec"]["template"]["spec"]["containers"]
    [port] = container["ports"]
    served = container["command"][container["command"].index("--port") + 1]

    assert port == {"name": "http", "containerPort": int(served), "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["resources"]["limits"]["memory"]
    service = production.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def secret_refs(rendered: Rendered) -> list[dict[str, Any]]:
    refs = []
    for pod in pods(rendered):
        for container in containers(pod):
            for env in container.get("env", []):
                if "valueFrom" in env:
                    refs.append({"env": env["name"], **env["valueFrom"]["secretKeyRef"]})
    return refs


def test_secret_refs_name_the_chart_secret_and_its_keys(postgres: Rendered) -> None:
    secrets = {s["metadata"]["name"]: s["stringData"] for s in postgres.all("Secret")}
    refs = secret_refs(postgres)

    assert {r["env"] for r in refs} >= {
        "APPROVAL_BOT_DATABASE_URL", "APPROVAL_BOT_API_TOKEN", "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET", "TELEGRAM_BOT_TOKEN", "MLFLOW_TRACKING_PASSWORD",
        "APPROVAL_BOT_KFP_TOKEN", "APPROVAL_BOT_AUDIT_KEY", "APPROVAL_BOT_AUDIT_VERIFY_KEYS",
    }  # fmt: skip
    for ref in refs:
        assert ref["key"] == ref["env"]
        assert ref["name"] in secrets, ref
        if ref["key"] not in secrets[ref["name"]]:
            assert ref.get("optional") is True, f"{ref} points at a key the Secret lacks"
    required = [r for r in refs if not r.get("optional")]
    assert {r["key"] for r in required} == {"APPROVAL_BOT_DATABASE_URL"}


def test_secret_values_appear_only_in_secrets(postgres: Rendered) -> None:
    for obj in postgres.objects:
        text = yaml.safe_dump(obj)
        if obj["kind"] == "Secret":
            continue
        assert SECRET_TOKEN not in text, obj["kind"]
        assert "pw@db" not in text, obj["kind"]
    assert any(SECRET_TOKEN in yaml.safe_dump(s) for s in postgres.all("Secret"))


def test_existing_secret_replaces_the_chart_secret(production: Rendered) -> None:
    refs = secret_refs(production)

    assert production.all("Secret") == []  # the hook Secret too: the Job reads existingSecret
    assert {r["name"] for r in refs} == {"approval-bot-secrets"}
    annotations = production.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secret" not in annotations
    assert "checksum/config" in annotations


def test_migrations_run_as_a_hook_before_the_new_pods(postgres: Rendered) -> None:
    job = postgres.one("Job")
    hook_secret = postgres.one("Secret", "ab-approval-bot-migrate")
    [ref] = secret_refs(Rendered([job]))

    def hook(obj: dict[str, Any]) -> tuple[set[str], int, set[str]]:
        annotations = obj["metadata"]["annotations"]
        return (
            set(annotations["helm.sh/hook"].split(",")),
            int(annotations["helm.sh/hook-weight"]),
            set(annotations["helm.sh/hook-delete-policy"].split(",")),
        )

    job_events, job_weight, job_delete = hook(job)
    secret_events, secret_weight, _ = hook(hook_secret)
    assert job_events == secret_events == {"pre-install", "pre-upgrade"}
    assert secret_weight < job_weight  # the Secret the Job reads exists first
    assert ref["name"] == hook_secret["metadata"]["name"]
    assert ref["key"] == "APPROVAL_BOT_DATABASE_URL"
    assert hook_secret["stringData"] == {
        "APPROVAL_BOT_DATABASE_URL": "postgresql://u:pw@db:5432/bot"
    }
    assert "before-hook-creation" in job_delete
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod  # hooks run before the chart's ServiceAccount exists
    assert [c["command"] for c in pod["containers"]] == [["approval-bot", "migrate"]]
    deployment = postgres.one("Deployment")
    assert "initContainers" not in deployment["spec"]["template"]["spec"]
    assert "helm.sh/hook" not in deployment["metadata"].get("annotations", {})


def test_config_change_rolls_the_pods() -> None:
    def checksum(*assignments: str) -> str:
        pod = template(BOT_CHART, set_values=list(assignments)).one("Deployment")
        return str(pod["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum("config.groups.sre[0]=carol") == checksum("config.groups.sre[0]=carol")
    assert checksum("config.groups.sre[0]=carol") != checksum("config.groups.sre[0]=dave")


def test_config_is_mounted_and_named_by_approval_bot_config(production: Rendered) -> None:
    pod = production.one("Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    config = yaml.safe_load(production.one("ConfigMap")["data"]["config.yaml"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")

    assert env["APPROVAL_BOT_CONFIG"] == f"{mount['mountPath']}/config.yaml"
    assert config["groups"] == {"ml-leads": ["alice", "bob"], "sre": ["carol"]}
    assert env["APPROVAL_BOT_LAUNCHER"] == "kfp"
    assert env["KF_PIPELINES_SA_TOKEN_PATH"] == "/var/run/secrets/kubeflow/pipelines/token"
    projected = next(v for v in pod["volumes"] if v["name"] == "kfp-token")["projected"]
    assert projected["sources"][0]["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"


def test_ingress_exposes_only_the_chat_callbacks(postgres: Rendered) -> None:
    [rule] = postgres.one("Ingress")["spec"]["rules"]
    paths = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]

    assert rule["host"] == "bot.example.com"
    assert paths == [("/slack/events", "Exact"), ("/telegram/webhook", "Exact")]


def test_network_policy_admits_only_the_http_port(production: Rendered) -> None:
    policy = production.one("NetworkPolicy")["spec"]
    [rule] = policy["ingress"]

    assert policy["policyTypes"] == ["Ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert len(rule["from"]) == 3


def bot_container(*assignments: str) -> dict[str, Any]:
    """The bot's env by name, its image and its init containers' images, from --set values."""
    pod = template(BOT_CHART, set_values=list(assignments)).one("Deployment")["spec"]["template"]
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    inits = [c["image"] for c in pod["spec"].get("initContainers", [])]
    return env | {"image": container["image"], "init_images": inits}


def test_the_pipelines_image_is_the_bot_image_name_with_pipelines() -> None:
    default = bot_container("image.repository=reg.example/ab", "image.tag=1.2")
    assert default["image"] == "reg.example/ab:1.2"  # the lean bot image
    assert default["APPROVAL_BOT_PIPELINES_IMAGE"] == "reg.example/ab-pipelines:1.2"
    other = bot_container("pipelines.image=reg.example/pipes:3")
    assert other["APPROVAL_BOT_PIPELINES_IMAGE"] == "reg.example/pipes:3"


def test_the_local_launcher_runs_the_bot_in_the_pipelines_image() -> None:
    """kfp.local runs the promotion inside the pod: it needs MLflow and scikit-learn, which
    the bot's image leaves out (the bot refuses to start without them)."""
    local = bot_container("mlflow.trackingUri=http://mlflow:5000", "image.tag=1.2")
    assert local["APPROVAL_BOT_LAUNCHER"] == "local"
    assert local["image"] == local["APPROVAL_BOT_PIPELINES_IMAGE"] == "approval-bot-pipelines:1.2"
    assert local["init_images"] == [local["image"]]  # SQLite's migrate: one image to pull
    # the launcher is off without MLflow, and the kfp launcher only calls the KFP API
    assert bot_container("image.tag=1.2")["image"] == "approval-bot:1.2"
    remote = bot_container(
        "mlflow.trackingUri=http://mlflow:5000",
        "kfp.launcher=kfp",
        "kfp.host=http://kfp",
        "secrets.apiToken=t",
        "promotion.namespace=models",
        "image.tag=1.2",
    )
    assert remote["image"] == "approval-bot:1.2"


def test_the_bot_is_bound_to_kubeflow_pipelines_edit_in_the_kfp_profile_namespace(
    production: Rendered,
) -> None:
    binding = production.one("RoleBinding")
    pod = production.one("Deployment")["spec"]["template"]["spec"]

    assert binding["metadata"]["namespace"] == "kubeflow-user-ml"  # kfp.namespace
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "kubeflow-pipelines-edit",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "approvals"}
    ]
    assert production.one("ServiceAccount")["metadata"]["name"] == pod["serviceAccountName"]
    # the projected token the KFP API reviews is that ServiceAccount's
    assert any(v["name"] == "kfp-token" for v in pod["volumes"])


@pytest.mark.parametrize(
    "assignments",
    [
        ["kfp.rbac.create=false"],
        ["kfp.namespace="],  # single-user KFP: no profile namespace
        ["kfp.launcher=none"],
    ],
    ids=["opted-out", "single-user", "no-kfp"],
)
def test_no_kfp_role_binding_unless_multi_user_kfp_is_configured(assignments: list[str]) -> None:
    rendered = template(BOT_CHART, PRODUCTION_VALUES, set_values=assignments)

    assert rendered.all("RoleBinding") == []
    assert template(BOT_CHART).all("RoleBinding") == []  # defaults: the local launcher


def test_the_migration_jobs_pod_is_selected_by_no_service_budget_or_policy(
    postgres: Rendered,
) -> None:
    job_pod = postgres.one("Job")["spec"]["template"]["metadata"]["labels"]
    bot_pod = postgres.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": postgres.one("Deployment")["spec"]["selector"]["matchLabels"],
        "Service": postgres.one("Service")["spec"]["selector"],
        "PodDisruptionBudget": postgres.one("PodDisruptionBudget")["spec"]["selector"][
            "matchLabels"
        ],
        "NetworkPolicy": postgres.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
    }

    for kind, selector in selectors.items():
        assert selector.items() <= bot_pod.items(), kind
        assert not selector.items() <= job_pod.items(), f"the {kind} selects the migration Job"
    assert job_pod["app.kubernetes.io/component"] == "migrate"


def test_the_migration_jobs_pod_takes_its_own_annotations(tmp_path: Path) -> None:
    """A classic Istio sidecar would keep the hook's pod running: it can be left out."""
    values = tmp_path / "values.yaml"
    values.write_text('migrations: {podAnnotations: {sidecar.istio.io/inject: "false"}}\n')
    rendered = template(BOT_CHART, values, set_values=POSTGRES)
    job, deployment = rendered.one("Job"), rendered.one("Deployment")

    assert job["spec"]["template"]["metadata"]["annotations"] == {
        "sidecar.istio.io/inject": "false"
    }
    assert "sidecar.istio.io/inject" not in deployment["spec"]["template"]["metadata"].get(
        "annotations", {}
    )


def test_a_changed_existing_secret_rolls_the_pods_through_its_checksum_value() -> None:
    def annotations(*assignments: str) -> dict[str, str]:
        rendered = template(BOT_CHART, PRODUCTION_VALUES, set_values=list(assignments))
        return dict(rendered.one("Deployment")["spec"]["template"]["metadata"]["annotations"])

    first = annotations("existingSecretChecksum=rv-1001")
    assert (
        first["checksum/secret"] == annotations("existingSecretChecksum=rv-1001")["checksum/secret"]
    )
    assert (
        first["checksum/secret"] != annotations("existingSecretChecksum=rv-1002")["checksum/secret"]
    )
    assert "rv-1001" not in first["checksum/secret"]  # hashed, whatever the user put there
    assert "checksum/secret" not in annotations()  # nothing known about the Secret: no roll


def test_telegram_polling_scales_and_rolls_like_the_webhook() -> None:
    """Telegram answers a second getUpdates poller 409 Conflict, and the chart refused more
    than one replica with polling (and replaced its pod with Recreate). The poller holds a
    database lease now: one replica polls, the others stand by (a rolling update's new pod
    too), so polling scales like the webhook."""
    polling = template(
        BOT_CHART, set_values=[*POSTGRES, "channels.telegram.mode=polling", "replicaCount=3"]
    )
    webhook = template(BOT_CHART, set_values=[*POSTGRES, "replicaCount=3"])

    for rendered in (polling, webhook):
        assert rendered.one("Deployment")["spec"]["replicas"] == 3
        assert "strategy" not in rendered.one("Deployment")["spec"]  # RollingUpdate


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (
            ["database.type=postgresql"],
            "approval-bot: secrets.databaseUrl is required with database.type=postgresql: "
            "set it to postgresql://user:password@host:5432/db, or existingSecret",
        ),
        (
            ["replicaCount=2"],
            "approval-bot: more than one replica on SQLite is refused (replicaCount=2)",
        ),
        (
            ["kfp.launcher=kfp", "secrets.apiToken=t"],
            "approval-bot: kfp.host is required with kfp.launcher=kfp",
        ),
        (
            ["kfp.launcher=kfp", "kfp.host=http://kfp"],
            "approval-bot: secrets.apiToken is required with kfp.launcher=kfp",
        ),
        (
            ["kfp.launcher=kfp", "kfp.host=http://kfp", "secrets.apiToken=t"],
            "approval-bot: promotion.namespace is required with kfp.launcher=kfp: set it to the "
            "namespace of the InferenceService the promotion patches",
        ),
        (
            ["channels.slack.channel=C01"],
            "approval-bot: publicUrl is required with Slack, Telegram or the ingress",
        ),
    ],
)
def test_missing_required_values_fail_naming_what_to_set(
    assignments: list[str], message: str
) -> None:
    with pytest.raises(helm.HelmError) as failed:
        template(BOT_CHART, set_values=assignments)

    assert message in str(failed.value)


def test_a_values_file_missing_the_database_url_fails(tmp_path: Path) -> None:
    values = yaml.safe_load(PRODUCTION_VALUES.read_text())
    del values["existingSecret"]
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))

    with pytest.raises(helm.HelmError, match=r"secrets\.databaseUrl is required"):
        template(BOT_CHART, path)


def test_the_values_schema_rejects_unknown_and_mistyped_values() -> None:
    with pytest.raises(helm.HelmError, match="databse"):
        template(BOT_CHART, set_values=["databse.type=postgresql"])
    with pytest.raises(helm.HelmError, match="replicaCount"):
        template(BOT_CHART, set_values=["replicaCount=zero"])
    with pytest.raises(helm.HelmError, match="launcher"):
        template(BOT_CHART, set_values=["kfp.launcher=argo"])
    with pytest.raises(helm.HelmError, match=r"promotion[./]namespace"):
        template(BOT_CHART, set_values=["promotion.namespace=Models"])
    with pytest.raises(helm.HelmError, match=r"promotion[./]requestOverrides"):
        template(BOT_CHART, set_values=["promotion.requestOverrides={model_version}"])
    with pytest.raises(helm.HelmError, match=r"kfp[./]timeoutSeconds"):
        template(BOT_CHART, set_values=["kfp.timeoutSeconds=5"])


def test_the_promotion_target_reaches_the_launcher_by_the_names_the_bot_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The chart's values → the pod's environment → the bot's settings → the parameters the
    launcher sends with every promotion run (bot/adapters/kfp/params.py)."""
    from bot.adapters.kfp.remote import KfpLauncher
    from bot.adapters.kfp.wiring import make_launcher
    from bot.settings import load_settings

    rendered = template(
        BOT_CHART,
        PRODUCTION_VALUES,
        set_values=[
            "promotion.inferenceService=iris-prod",
            "promotion.storageUriPrefix=s3://models/mlflow",
            "promotion.requestOverrides={namespace,ready_timeout_seconds}",
            "kfp.timeoutSeconds=1",
        ],
    )
    [container] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    monkeypatch.chdir(tmp_path)  # no .env
    for item in container["env"]:
        if "value" in item:
            monkeypatch.setenv(item["name"], item["value"])

    launcher = make_launcher(load_settings())

    assert isinstance(launcher, KfpLauncher)
    assert launcher.defaults == {
        "namespace": "models",
        "inference_service": "iris-prod",
        "storage_uri_prefix": "s3://models/mlflow",
    }
    assert launcher.overridable == {"namespace", "ready_timeout_seconds"}
    assert launcher.timeout_seconds == 1.0


def test_the_schema_and_values_yaml_name_the_same_values() -> None:
    values = yaml.safe_load((BOT_CHART / "values.yaml").read_text())
    schema = yaml.safe_load((BOT_CHART / "values.schema.json").read_text())

    moved = {k for k, v in schema["properties"].items() if "moved" in v.get("description", "")}
    assert moved == {"slack", "telegram", "console"}  # refused by the templates, naming
    assert set(schema["properties"]) - {"global"} - moved == set(values)
    assert set(schema["properties"]["channels"]["properties"]) == set(values["channels"])


CHANNEL_VALUES = [
    "channels.console.enabled=false",
    "channels.slack.channel=C0MODELS",
    "channels.slack.botToken=xoxb-bot",
    "channels.slack.signingSecret=sign-0123",
    "channels.telegram.chatId=-1001234567890",
    "channels.telegram.botToken=123:tg-token",
    "channels.telegram.webhookSecret=hook-0123",
]


def test_each_channels_values_reach_its_settings_by_the_names_it_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """channels.<name> → the pod's environment and the chart's Secret → each channel's own
    settings class (its SPEC in bot/adapters/<name>/), for every registered channel."""
    from bot.adapters.registry import read_settings

    rendered = template(
        BOT_CHART, set_values=[*POSTGRES, "publicUrl=https://bot.example.com", *CHANNEL_VALUES]
    )
    [container] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    refs = [i["valueFrom"]["secretKeyRef"] for i in container["env"] if "valueFrom" in i]
    secret = rendered.one("Secret", refs[0]["name"])["stringData"]
    monkeypatch.chdir(tmp_path)  # no .env
    for item in container["env"]:
        if "value" in item:
            monkeypatch.setenv(item["name"], item["value"])
        elif item["valueFrom"]["secretKeyRef"]["key"] in secret:
            monkeypatch.setenv(item["name"], secret[item["valueFrom"]["secretKeyRef"]["key"]])

    settings = read_settings()

    assert set(settings) == set(yaml.safe_load((BOT_CHART / "values.yaml").read_text())["channels"])
    console, slack, telegram = settings["console"], settings["slack"], settings["telegram"]
    assert console.enabled is False  # type: ignore[attr-defined]
    assert slack.channel == "C0MODELS"  # type: ignore[attr-defined]
    assert slack.bot_token.get_secret_value() == "xoxb-bot"  # type: ignore[attr-defined]
    assert slack.signing_secret.get_secret_value() == "sign-0123"  # type: ignore[attr-defined]
    assert telegram.chat_id == "-1001234567890"  # type: ignore[attr-defined]
    assert telegram.bot_token.get_secret_value() == "123:tg-token"  # type: ignore[attr-defined]
    assert telegram.webhook_secret.get_secret_value() == "hook-0123"  # type: ignore[attr-defined]
    # secrets stay in the Secret: never inline in the pod spec
    inline = {item["value"] for item in container["env"] if "value" in item}
    assert not inline & {"xoxb-bot", "sign-0123", "123:tg-token", "hook-0123"}


def test_a_chat_channel_needs_the_public_url_and_the_console_alone_does_not() -> None:
    with pytest.raises(helm.HelmError, match="publicUrl is required with Slack, Telegram"):
        template(BOT_CHART, set_values=["channels.telegram.botToken=123:tg"])
    console_only = template(BOT_CHART, set_values=["channels.console.enabled=true"])
    assert console_only.one("Deployment")


def test_values_of_the_chart_before_channels_are_refused_naming_where_they_went() -> None:
    with pytest.raises(helm.HelmError) as refused:
        template(
            BOT_CHART,
            set_values=[
                "slack.channel=C01",
                "console=false",
                "secrets.slackBotToken=xoxb-1",
                "secrets.telegramWebhookSecret=w",
            ],
        )
    message = str(refused.value)
    assert "the chat channels' values moved under channels.<name>" in message
    for moved in (
        "slack → channels.slack",
        "console → channels.console.enabled",
        "secrets.slackBotToken → channels.slack.botToken",
        "secrets.telegramWebhookSecret → channels.telegram.webhookSecret",
    ):
        assert moved in message
    assert "xoxb-1" not in message
