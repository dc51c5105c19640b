"""Errors raised by the pipeline steps.

Each one aborts the task that raises it with a message meant for the person reading the
KFP run's logs, so it says what failed and what to do about it.

    PipelineError
    ├── ConfigurationError        a required environment variable or parameter is missing/invalid
    ├── DataValidationError       the dataset failed named checks (schema, nulls, ranges, ...)
    ├── DataIntegrityError        a data run's artifact differs from its sha256, or is unvalidated
    ├── ModelNotFoundError        an alias or model version does not exist in the registry
    ├── ApprovalError             the approval bot does not confirm an approval for this version
    └── DeployError               the InferenceService patch failed
        ├── DeployPermissionError the ServiceAccount may not get/patch ``inferenceservices``
        │                         (or get the predictor's ``deployments`` in RawDeployment mode)
        ├── ConflictError         409: the object changed since it was read (resourceVersion)
        ├── NotReadyError         the patched InferenceService failed or did not become Ready
        │   └── ServingReplacedError  it serves another model now: someone else's promotion
        ├── PromotionRolledBackError  the promotion was undone; the message says why and what
        └── PromotionSupersededError  another promotion replaced this one while it waited;
                                      serving was left as that one made it
"""

from __future__ import annotations

from collections.abc import Sequence


class PipelineError(Exception):
    """Base class of every error a pipeline step raises on purpose."""


class ConfigurationError(PipelineError):
    """A required setting is missing or invalid."""


class DataValidationError(PipelineError):
    """The dataset failed one or more named validation checks."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = list(failures)
        self.checks = [name for name, _ in self.failures]
        details = "; ".join(f"check '{name}' failed: {detail}" for name, detail in self.failures)
        super().__init__(f"data validation failed ({', '.join(self.checks)}): {details}")


class DataIntegrityError(PipelineError):
    """A data run's artifact is missing, altered, or was never validated."""


class ModelNotFoundError(PipelineError):
    """A registered model, version or alias does not exist."""


class ApprovalError(PipelineError):
    """The approval bot did not confirm an approval matching this promotion."""


class DeployError(PipelineError):
    """Patching the KServe InferenceService failed."""


class DeployPermissionError(DeployError):
    """The Kubernetes API answered 403: the ServiceAccount lacks a permission (named)."""


class ConflictError(DeployError):
    """The Kubernetes API answered 409: the object changed since its resourceVersion was read."""


class NotReadyError(DeployError):
    """KServe reported the new model failed, or it was not Ready before the deadline."""


class ServingReplacedError(NotReadyError):
    """While waiting, the InferenceService's storageUri stopped being this promotion's."""


class PromotionRolledBackError(DeployError):
    """The promotion failed after the aliases moved, and they and the InferenceService were
    put back. Its one-line message (the reason, then what was restored) is what the bot shows."""


class PromotionSupersededError(DeployError):
    """Another promotion (or a person) replaced the model this one served before it was Ready.

    The InferenceService is left as the newer change made it, and only the aliases that still
    say what this promotion set are put back: a newer promotion is never undone.
    """


class CanaryFailedError(DeployError):
    """The canary analysis failed at a step (its numbers in the message): roll back."""


class CanaryRollbackRequestedError(DeployError):
    """Someone asked for a rollback from chat (the bot's control signal): roll back."""
