"""Promotion: the approval guard, then the alias switch and the KServe deploy as one step.

``promote`` keeps the registry and serving together: it moves the aliases, patches the
InferenceService, waits (bounded) for KServe to report the new model Ready, and on any failure
puts the aliases and the InferenceService back as they were and raises
``PromotionRolledBackError`` saying why. Every part is idempotent: a second run changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pipelines.errors import (
    ApprovalError,
    ConfigurationError,
    PromotionRolledBackError,
    PromotionSupersededError,
    ServingReplacedError,
)
from pipelines.steps import kube, registry, rollout, serving
from pipelines.steps.approvals import BotClient, BotRequestError
from pipelines.steps.deploy_guard import require_champion, verify_divergence

log = logging.getLogger(__name__)

# Only an approval whose promotion has not ended, and that no newer approval of the model
# replaced: re-running an old promotion run must not move @champion back.
PROMOTABLE_STATES = frozenset({"approved", "promoting"})
APPROVED_STATES = PROMOTABLE_STATES | {"promoted", "promotion_failed"}
STORAGE_URI_PREFIX = "s3://mlflow/artifacts"
# Where a promotion serves: the promotion pipeline's parameters that the bot fills in from its
# configuration (APPROVAL_BOT_PROMOTION_*) and a staging run may ask for (staging.py).
TARGET_PARAMETERS = ("inference_service", "namespace", "storage_uri_prefix")
DEPLOY_TARGETS = ("kserve", "none")
RUNTIME = "mlserver-mlflow"
MODEL_FORMAT = {"name": "mlflow", "version": "2"}  # MLServer accepts mlflow "1" or "2" only
READY_TIMEOUT_SECONDS = 600  # model download + MLServer start; the promotion's default
POLL_SECONDS = 5.0


def check_approval(
    request: dict[str, Any],
    *,
    approval_request_id: str,
    model_name: str,
    model_version: str,
    data_run_id: str,
) -> str:
    """Refuse unless ``request`` approves exactly this model version and is the model's latest
    approval (``newer_approval`` is null); return its state."""
    state = str(request.get("state", ""))
    if state not in APPROVED_STATES:
        raise ApprovalError(
            f"approval request {approval_request_id} is {state or 'in no state'!r}, not one of "
            f"{sorted(PROMOTABLE_STATES)}: refusing to promote"
        )
    if "newer_approval" not in request:
        raise ApprovalError(
            f"approval request {approval_request_id}: the bot does not say whether it is the "
            f"latest approval of {model_name} (an older bot?): refusing to promote"
        )
    newer = request.get("newer_approval")
    if newer:
        raise ApprovalError(
            f"approval request {approval_request_id} ({model_name} v{model_version}) is not "
            f"the latest approval: request {newer.get('id')} approved {model_name} "
            f"v{newer.get('model_version')} since ({newer.get('state')}), the newer champion: "
            f"refusing to promote v{model_version} over it"
        )
    if state not in PROMOTABLE_STATES:
        why = {
            "promoted": "it was promoted already (a promotion runs once per approval)",
            "promotion_failed": "its promotion failed; submit the version again",
        }[state]
        raise ApprovalError(
            f"approval request {approval_request_id} is {state!r}: {why}: refusing to promote"
        )
    for field, expected in (("model_name", model_name), ("model_version", model_version)):
        actual = str(request.get(field, ""))
        if actual != expected:
            raise ApprovalError(
                f"approval request {approval_request_id} approves {field} {actual!r}, "
                f"but this run promotes {expected!r}: refusing to promote"
            )
    approved_data = str(request.get("data_run_id") or "")
    if approved_data and data_run_id and approved_data != data_run_id:
        raise ApprovalError(
            f"approval request {approval_request_id} was made for data run {approved_data!r}, "
            f"but this run names {data_run_id!r}: refusing to promote"
        )
    return state


def check_deploy_target(deploy_target: str) -> None:
    """Fail before anything changes rather than after the aliases moved."""
    if deploy_target not in DEPLOY_TARGETS:
        raise ConfigurationError(
            f"deploy_target must be one of {DEPLOY_TARGETS}, got {deploy_target!r}"
        )


def verify_approval(
    approval_request_id: str,
    *,
    model_name: str,
    model_version: str,
    data_run_id: str,
    deploy_target: str = "kserve",
    divergence_id: str = "",
) -> str:
    """Ask the bot for the request and check it (see ``check_approval``); return its state.

    Also checks ``deploy_target``, so a typo fails the run before any alias moves. With
    ``divergence_id`` (a "Deploy the champion" run, docs/watch.md) the bot's divergence is
    checked instead (``verify_divergence``).
    """
    check_deploy_target(deploy_target)
    if divergence_id.strip():
        return verify_divergence(divergence_id, model_name=model_name, model_version=model_version)
    if not approval_request_id.strip():
        raise ApprovalError("no approval_request_id given: promotion needs an approved request")
    try:
        request = BotClient.from_env().get(approval_request_id)
    except ConfigurationError as error:
        raise ApprovalError(f"cannot verify the approval: {error}") from error
    except BotRequestError as error:
        if error.status == 404:
            raise ApprovalError(f"approval request {approval_request_id} does not exist") from error
        raise ApprovalError(
            f"cannot verify approval request {approval_request_id}: {error}"
        ) from error
    state = check_approval(
        request,
        approval_request_id=approval_request_id,
        model_name=model_name,
        model_version=model_version,
        data_run_id=data_run_id,
    )
    log.info(
        "approval request %s is %s for %s v%s",
        approval_request_id,
        state,
        model_name,
        model_version,
    )
    return state


@dataclass(frozen=True)
class Aliases:
    """Which versions hold @champion, @archived and @challenger (None: nobody)."""

    champion: str | None
    archived: str | None
    challenger: str | None

    @classmethod
    def read(cls, client: Any, model_name: str) -> Aliases:
        return cls(
            registry.alias_version(client, model_name, registry.CHAMPION),
            registry.alias_version(client, model_name, registry.ARCHIVED),
            registry.alias_version(client, model_name, registry.CHALLENGER),
        )


@dataclass(frozen=True)
class AliasChange:
    """What the alias switch did (empty ``archived_version``: there was no other champion)."""

    champion_version: str
    archived_version: str


def switch_aliases(model_name: str, model_version: str) -> AliasChange:
    """@champion → this version; the previous champion → @archived; drop @challenger from it.

    Ordered so that some version holds @champion at every moment (aliases move atomically),
    and a second run finds everything in place and changes nothing.
    """
    client = registry.client()
    client.get_model_version(model_name, model_version)  # fails clearly if it does not exist
    previous = registry.alias_version(client, model_name, registry.CHAMPION)
    archived = ""
    if previous is not None and previous != model_version:
        client.set_registered_model_alias(model_name, registry.ARCHIVED, previous)
        archived = previous
        log.info("%s v%s: @champion → @archived", model_name, previous)
    if previous != model_version:
        client.set_registered_model_alias(model_name, registry.CHAMPION, model_version)
        log.info("%s v%s is now @champion", model_name, model_version)
    if registry.alias_version(client, model_name, registry.CHALLENGER) == model_version:
        client.delete_registered_model_alias(model_name, registry.CHALLENGER)
        log.info("%s v%s: removed @challenger", model_name, model_version)
    return AliasChange(champion_version=model_version, archived_version=archived)


def storage_uri(download_uri: str, prefix: str = STORAGE_URI_PREFIX) -> str:
    """``mlflow-artifacts:/<path>`` → ``<prefix>/<path>``; any other scheme is returned unchanged.

    The prefix is where the MLflow server's ``--artifacts-destination`` points (MinIO bucket).
    """
    parsed = urlparse(download_uri)
    if parsed.scheme != "mlflow-artifacts":
        return download_uri
    return f"{prefix.rstrip('/')}/{parsed.path.lstrip('/')}"


def inference_service_patch(uri: str) -> dict[str, Any]:
    """The JSON merge patch that points an InferenceService's predictor at ``uri``."""
    return {
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": dict(MODEL_FORMAT),
                    "runtime": RUNTIME,
                    "storageUri": uri,
                }
            }
        }
    }


def restore_aliases(client: Any, model_name: str, model_version: str, before: Aliases) -> list[str]:
    """Undo ``switch_aliases(model_name, model_version)`` given the aliases ``before`` it.

    Each alias is put back only while it still says what the switch made it say, so an alias
    someone moved since (a newer @challenger) is left alone. Returns what was done, for humans.
    """
    now = Aliases.read(client, model_name)
    done: list[str] = []

    def put(alias: str, version: str | None) -> None:
        if version is None:
            client.delete_registered_model_alias(model_name, alias)
            done.append(f"@{alias} removed")
        else:
            client.set_registered_model_alias(model_name, alias, version)
            done.append(f"@{alias} -> v{version}")

    if now.champion == model_version and before.champion != model_version:
        put(registry.CHAMPION, before.champion)
    previous = before.champion
    moved_to_archive = previous is not None and previous != model_version
    if moved_to_archive and now.archived == previous and before.archived != previous:
        put(registry.ARCHIVED, before.archived)
    if before.challenger == model_version and now.challenger is None:
        put(registry.CHALLENGER, model_version)
    return done


@dataclass(frozen=True)
class Promoted:
    """What ``promote`` did: the new champion, the archived one (or ""), the served URI."""

    champion_version: str
    archived_version: str
    storage_uri: str


def promote(
    model_name: str,
    model_version: str,
    *,
    deploy_target: str = "kserve",
    inference_service: str = "iris-serving",
    namespace: str = "",
    storage_uri_prefix: str = STORAGE_URI_PREFIX,
    ready_timeout_seconds: float = READY_TIMEOUT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    canary_plan: Any = None,
    control: Any = None,
    keep_champion: bool = False,
) -> Promoted:
    """Move the aliases, serve the version, wait until it is Ready; undo both if it is not.

    Before anything changes, the InferenceService (and in RawDeployment mode its predictor
    Deployment) is read: a missing one or a missing ``get`` permission fails here, with nothing
    moved. After the alias switch, any failure — the patch refused, KServe reporting an invalid
    spec or a model that failed to load, the Deployment past its progress deadline, or no
    Ready within ``ready_timeout_seconds`` (``pipelines.steps.serving``) — restores the
    previous aliases and the fields the patch set (``rollout.restore_service``) and raises
    ``PromotionRolledBackError`` with the reason. If another promotion replaced the served
    model meanwhile, ``PromotionSupersededError``: serving is left to it.

    ``keep_champion`` ("Deploy the champion", docs/watch.md): no alias moves; refused unless
    ``@champion`` names this version already (someone who moved it since wins).

    ``canary_plan`` (``canary.parse_plan``): serve in traffic steps with an analysis at each,
    rolled back on a failure or from chat through ``control`` (pipelines/steps/canary.py).
    """
    check_deploy_target(deploy_target)
    if canary_plan is not None and deploy_target != "kserve":
        raise ConfigurationError("a canary needs deploy_target=kserve: nothing to split")
    client = registry.client()
    registry.require_version(client, model_name, model_version)
    if keep_champion:
        require_champion(client, model_name, model_version)
    uri = storage_uri(
        client.get_model_version_download_uri(model_name, model_version), storage_uri_prefix
    )
    if deploy_target == "none":
        change = switch_aliases(model_name, model_version)
        log.info("deploy_target=none: not patching; storage URI %s", uri)
        return Promoted(change.champion_version, change.archived_version, uri)

    target = Target(inference_service, namespace or kube.default_namespace())
    deploy = _deploy if canary_plan is None else _canary(canary_plan, control)
    change = deploy(
        client,
        model_name,
        model_version,
        uri,
        target,
        timeout_seconds=ready_timeout_seconds,
        poll_seconds=poll_seconds,
    )
    log.info("InferenceService %s is Ready on %s", target, uri)
    return Promoted(change.champion_version, change.archived_version, uri)


def _canary(plan: Any, control: Any) -> Any:
    """``_deploy`` with a canary (pipelines/steps/canary_deploy.py)."""
    from functools import partial

    from pipelines.steps import canary_deploy

    return partial(canary_deploy.deploy, plan=plan, control=control)


@dataclass(frozen=True)
class Target:
    """The InferenceService a promotion patches."""

    name: str
    namespace: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _deploy(
    client: Any,
    model_name: str,
    model_version: str,
    uri: str,
    target: Target,
    *,
    timeout_seconds: float,
    poll_seconds: float,
) -> AliasChange:
    """The ``kserve`` part of ``promote``: read, switch, patch, wait; undo on failure."""
    before_service = kube.get_inference_service(target.name, target.namespace)
    before_deployment = None
    if serving.deployment_mode(before_service) == serving.RAW:  # read now: a missing
        before_deployment = kube.get_deployment(  # permission fails before anything moves
            serving.predictor_deployment(target.name), target.namespace
        )
    before_aliases = Aliases.read(client, model_name)
    ours = inference_service_patch(uri)
    try:
        change = switch_aliases(model_name, model_version)
        kube.patch_inference_service(target.name, target.namespace, ours)
        log.info("patched InferenceService %s to %s", target, uri)
        rollout.wait_until_ready(
            target.name,
            target.namespace,
            uri=uri,
            before=before_service,
            before_deployment=before_deployment,
            timeout_seconds=timeout_seconds,
            poll_seconds=poll_seconds,
        )
    except ServingReplacedError as error:
        # Someone else's promotion serves now: leave serving to it; only the aliases that
        # still say what this one set are put back.
        aliases = _restore_aliases(client, model_name, model_version, before_aliases)
        raise PromotionSupersededError(
            f"promotion of {model_name} v{model_version} stopped: {error}. Serving left as it "
            f"is; {aliases}."
        ) from error
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        aliases = _restore_aliases(client, model_name, model_version, before_aliases)
        try:
            served = rollout.restore_service(
                target.name, target.namespace, before=before_service, ours=ours, uri=uri
            )
        except Exception as restore_error:
            log.exception("restoring InferenceService %s failed", target)
            served = f"RESTORING InferenceService {target} FAILED ({restore_error}); fix it by hand"
        raise PromotionRolledBackError(
            f"promotion of {model_name} v{model_version} rolled back: {reason}. "
            f"{aliases}; {served}."
        ) from error
    return change


def _restore_aliases(client: Any, model_name: str, model_version: str, before: Aliases) -> str:
    try:
        done = restore_aliases(client, model_name, model_version, before)
    except Exception as error:  # report it; the caller still says what happened to serving
        log.exception("restoring the aliases of %s failed", model_name)
        return f"RESTORING THE ALIASES FAILED ({error}); fix them by hand"
    return f"Aliases restored ({', '.join(done) or 'unchanged'})"
