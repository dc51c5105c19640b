"""Promotion: the approval guard, the alias switch, and the KServe deploy. Each is idempotent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pipelines.errors import ApprovalError, ConfigurationError
from pipelines.steps import kube, registry
from pipelines.steps.approvals import BotClient, BotRequestError

log = logging.getLogger(__name__)

PROMOTABLE_STATES = frozenset({"approved", "promoting", "promoted"})
STORAGE_URI_PREFIX = "s3://mlflow/artifacts"
DEPLOY_TARGETS = ("kserve", "none")
RUNTIME = "mlserver-mlflow"
MODEL_FORMAT = {"name": "mlflow", "version": "2"}  # MLServer accepts mlflow "1" or "2" only


def check_approval(
    request: dict[str, Any],
    *,
    approval_request_id: str,
    model_name: str,
    model_version: str,
    data_run_id: str,
) -> str:
    """Refuse unless ``request`` approves exactly this model version; return its state."""
    state = str(request.get("state", ""))
    if state not in PROMOTABLE_STATES:
        raise ApprovalError(
            f"approval request {approval_request_id} is {state or 'in no state'!r}, not one of "
            f"{sorted(PROMOTABLE_STATES)}: refusing to promote"
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
) -> str:
    """Ask the bot for the request and check it (see ``check_approval``); return its state.

    Also checks ``deploy_target``, so a typo fails the run before any alias moves.
    """
    check_deploy_target(deploy_target)
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


def deploy(
    model_name: str,
    model_version: str,
    *,
    deploy_target: str = "kserve",
    inference_service: str = "iris-serving",
    namespace: str = "",
    storage_uri_prefix: str = STORAGE_URI_PREFIX,
) -> str:
    """Resolve the storage URI and (for ``kserve``) patch the InferenceService; return the URI."""
    check_deploy_target(deploy_target)
    client = registry.client()
    uri = storage_uri(
        client.get_model_version_download_uri(model_name, model_version), storage_uri_prefix
    )
    if deploy_target == "none":
        log.info("deploy_target=none: not patching; storage URI %s", uri)
        return uri
    target_namespace = namespace or kube.default_namespace()
    kube.patch_inference_service(inference_service, target_namespace, inference_service_patch(uri))
    log.info("patched InferenceService %s/%s to %s", target_namespace, inference_service, uri)
    return uri
