"""The core settings, read once (by the entry point) from the environment and a `.env` file.
Each channel reads its own (``bot/adapters/<channel>/settings.py``)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.domain.access import ReadAccess
from bot.domain.audit_keys import Keyring
from bot.domain.durations import parse_duration
from bot.domain.errors import ConfigError
from bot.domain.tokens import Scope

HOUR = 3600.0
DAY = 86400.0

# Kubernetes object names (k8s.io/apimachinery/pkg/util/validation): namespaces are DNS-1123
# labels; KServe refuses InferenceService names that do not start with a letter.
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
DNS1123_RULE = "at most 63 of a-z, 0-9 and '-', starting and ending with a letter or digit"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def default_data_dir() -> Path:
    """Where the default SQLite database and local runs live, resolved once.

    A source checkout (or the image, installed editable beside ``pyproject.toml``) keeps them in
    its own ``var/``, whatever the current directory; anything else in ``./var`` as it was when
    the command started. ``APPROVAL_BOT_DATA_DIR`` overrides both.
    """
    project = Path(__file__).resolve().parents[1]
    if (project / "pyproject.toml").is_file() and (project / "bot").is_dir():
        return project / "var"
    return Path.cwd() / "var"


def _absolute_sqlite(url: str) -> str:
    """A relative SQLite path, resolved against the current directory once, at start."""
    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return url
    path = Path(db).expanduser()
    if path.is_absolute():
        return url
    return parsed.set(database=str(Path.cwd() / path)).render_as_string(hide_password=False)


class Settings(BaseSettings):
    # An empty variable means "not set" (e.g. APPROVAL_BOT_CONFIG= in a .env file).
    # Inputs are never repeated in errors: some are secrets.
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir, validation_alias=_env("APPROVAL_BOT_DATA_DIR")
    )
    # Default: SQLite at <data_dir>/approval-bot.db (filled in by _paths below).
    database_url: str = Field("", validation_alias=_env("APPROVAL_BOT_DATABASE_URL"))
    api_token: SecretStr | None = Field(None, validation_alias=_env("APPROVAL_BOT_API_TOKEN"))
    # What the bootstrap token may do: what the pipelines need (README.md, "API tokens")
    api_token_scopes: str = Field(
        "submit,read", validation_alias=_env("APPROVAL_BOT_API_TOKEN_SCOPES")
    )
    config_file: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_CONFIG"))
    public_url: str = Field(
        "http://127.0.0.1:8080", validation_alias=_env("APPROVAL_BOT_PUBLIC_URL")
    )
    log_format: Literal["plain", "json"] = Field(
        "plain", validation_alias=_env("APPROVAL_BOT_LOG_FORMAT")
    )
    log_level: str = Field("INFO", validation_alias=_env("APPROVAL_BOT_LOG_LEVEL"))
    api_docs: bool = Field(True, validation_alias=_env("APPROVAL_BOT_API_DOCS"))

    # Where people look at runs (links on the console and in the demo's requests)
    mlflow_ui_url: str | None = Field(None, validation_alias=_env("MLFLOW_UI_URL"))
    kfp_ui_url: str | None = Field(None, validation_alias=_env("KFP_UI_URL"))

    # MLflow
    mlflow_tracking_uri: str | None = Field(None, validation_alias=_env("MLFLOW_TRACKING_URI"))
    # MLflow reads these itself; they are here so logs can never show them.
    mlflow_tracking_password: SecretStr | None = Field(
        None, validation_alias=_env("MLFLOW_TRACKING_PASSWORD")
    )
    mlflow_tracking_token: SecretStr | None = Field(
        None, validation_alias=_env("MLFLOW_TRACKING_TOKEN")
    )
    audit_experiment: str = Field(
        "iris-promotion", validation_alias=_env("APPROVAL_BOT_AUDIT_EXPERIMENT")
    )

    # The audit log's signing keys and its checks (docs/audit-log.md)
    audit_key: SecretStr | None = Field(None, validation_alias=_env("APPROVAL_BOT_AUDIT_KEY"))
    audit_verify_keys: SecretStr | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_AUDIT_VERIFY_KEYS")
    )
    audit_check_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("APPROVAL_BOT_AUDIT_CHECK_SECONDS")
    )
    audit_full_check_hours: float = Field(
        24.0, gt=0, validation_alias=_env("APPROVAL_BOT_AUDIT_FULL_CHECK_HOURS")
    )

    # KFP
    launcher: str = Field("local", validation_alias=_env("APPROVAL_BOT_LAUNCHER"))
    kfp_host: str | None = Field(None, validation_alias=_env("KFP_HOST"))
    kfp_pipeline: str = Field("promotion", validation_alias=_env("APPROVAL_BOT_KFP_PIPELINE"))
    kfp_pipeline_version: str | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_KFP_PIPELINE_VERSION")
    )
    kfp_experiment: str = Field(
        "iris-promotion", validation_alias=_env("APPROVAL_BOT_KFP_EXPERIMENT")
    )
    kfp_namespace: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_KFP_NAMESPACE"))
    kfp_timeout_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("APPROVAL_BOT_KFP_TIMEOUT_SECONDS")
    )

    # Runtime
    # Every number has an upper bound (docs/configuration.md, "Delivery of effects and the
    # scheduler"): past it is a typo, and far enough past it overflows a date.
    sweep_seconds: float = Field(
        5.0, gt=0, le=HOUR, validation_alias=_env("APPROVAL_BOT_SWEEP_SECONDS")
    )
    poll_seconds: float = Field(
        10.0, gt=0, le=HOUR, validation_alias=_env("APPROVAL_BOT_POLL_SECONDS")
    )
    webhook_url: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_WEBHOOK_URL"))
    # An effect is retried until it has failed for this long (a duration: 30m, 24h, 2d).
    outbox_give_up_after: str = Field(
        "24h", validation_alias=_env("APPROVAL_BOT_OUTBOX_GIVE_UP_AFTER")
    )
    # Also dead-letter after this many failed attempts (unset: only the window counts).
    outbox_max_attempts: int | None = Field(
        None, ge=1, le=100, validation_alias=_env("APPROVAL_BOT_OUTBOX_MAX_ATTEMPTS")
    )
    outbox_base_seconds: float = Field(
        2.0, gt=0, le=HOUR, validation_alias=_env("APPROVAL_BOT_OUTBOX_BASE_SECONDS")
    )
    outbox_cap_seconds: float = Field(
        300.0, gt=0, le=DAY, validation_alias=_env("APPROVAL_BOT_OUTBOX_CAP_SECONDS")
    )
    outbox_lease_seconds: float = Field(
        60.0, gt=0, le=HOUR, validation_alias=_env("APPROVAL_BOT_OUTBOX_LEASE_SECONDS")
    )

    # Decision effects (MLflow aliases, promotion launchers): see bot/adapters/mlflow, kfp
    alias_challenger: str = Field(
        "challenger", validation_alias=_env("APPROVAL_BOT_ALIAS_CHALLENGER")
    )
    alias_rejected: str = Field("rejected", validation_alias=_env("APPROVAL_BOT_ALIAS_REJECTED"))
    alias_archived: str = Field("archived", validation_alias=_env("APPROVAL_BOT_ALIAS_ARCHIVED"))
    kfp_token: SecretStr | None = Field(None, validation_alias=_env("APPROVAL_BOT_KFP_TOKEN"))
    kfp_token_path: str | None = Field(None, validation_alias=_env("KF_PIPELINES_SA_TOKEN_PATH"))
    kfp_service_account: str | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_KFP_SERVICE_ACCOUNT")
    )
    # Default: <data_dir>/kfp-local (filled in by _paths below).
    local_pipeline_root: str = Field("", validation_alias=_env("APPROVAL_BOT_LOCAL_PIPELINE_ROOT"))
    local_deploy_target: str = Field(
        "none", validation_alias=_env("APPROVAL_BOT_LOCAL_DEPLOY_TARGET")
    )
    approval_bot_url: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_URL"))

    # The promotion target: sent as the promotion run's parameters by both launchers
    # (docs/configuration.md, "Promotion target"; bot/adapters/kfp/params.py)
    promotion_namespace: str | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_PROMOTION_NAMESPACE")
    )
    promotion_inference_service: str = Field(
        "iris-serving", validation_alias=_env("APPROVAL_BOT_PROMOTION_INFERENCE_SERVICE")
    )
    promotion_storage_uri_prefix: str = Field(
        "s3://mlflow/artifacts", validation_alias=_env("APPROVAL_BOT_PROMOTION_STORAGE_URI_PREFIX")
    )
    promotion_request_overrides: str = Field(
        "", validation_alias=_env("APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES")
    )
    # A canary for every promotion (docs/kserve.md, "Canary"): steps, dwell, the analysis
    promotion_canary_steps: str = Field(
        "", validation_alias=_env("APPROVAL_BOT_PROMOTION_CANARY_STEPS")
    )
    promotion_canary_dwell_seconds: int = Field(
        300, ge=1, le=86400, validation_alias=_env("APPROVAL_BOT_PROMOTION_CANARY_DWELL_SECONDS")
    )
    promotion_canary_checks: str = Field(
        "", validation_alias=_env("APPROVAL_BOT_PROMOTION_CANARY_CHECKS")
    )
    prometheus_url: str = Field("", validation_alias=_env("APPROVAL_BOT_PROMETHEUS_URL"))

    # Who may read requests in the chat channels and the console (bot/domain/access.py)
    read_access: str = Field("enrolled", validation_alias=_env("APPROVAL_BOT_READ_ACCESS"))

    @model_validator(mode="after")
    def _paths(self) -> Settings:
        """Defaults under the data directory; relative SQLite paths made absolute, once."""
        self.data_dir = self.data_dir.expanduser().absolute()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'approval-bot.db'}"
        self.database_url = _absolute_sqlite(self.database_url)
        if not self.local_pipeline_root:
            self.local_pipeline_root = str(self.data_dir / "kfp-local")
        return self

    @field_validator("outbox_give_up_after")
    @classmethod
    def _give_up_after(cls, value: str) -> str:
        parse_duration(value)  # its ValueError names the form and the bound
        return value.strip()

    @property
    def outbox_give_up_after_seconds(self) -> float:
        return parse_duration(self.outbox_give_up_after).total_seconds()

    @field_validator("audit_key")
    @classmethod
    def _audit_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            Keyring.parse(value.get_secret_value())  # its ValueError names the problem
        return value

    @field_validator("audit_verify_keys")
    @classmethod
    def _audit_verify_keys(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return value
        old = Keyring.parse(None, value.get_secret_value())
        current = info.data.get("audit_key")
        key = Keyring.parse(current.get_secret_value()).current if current else None
        if key is not None and old.key(key.id) is not None:
            raise ValueError(
                f"key id {key.id!r} is APPROVAL_BOT_AUDIT_KEY's too: a new key needs a new id"
            )
        return value

    def audit_keyring(self) -> Keyring:
        """``APPROVAL_BOT_AUDIT_KEY`` (signs) and ``APPROVAL_BOT_AUDIT_VERIFY_KEYS`` (only
        verify)."""
        return Keyring.parse(
            self.audit_key.get_secret_value() if self.audit_key else None,
            self.audit_verify_keys.get_secret_value() if self.audit_verify_keys else None,
        )

    @field_validator("api_token_scopes")
    @classmethod
    def _scopes(cls, value: str) -> str:
        Scope.parse([value])  # its ValueError names the problem
        return value

    def bootstrap_scopes(self) -> frozenset[Scope]:
        return Scope.parse([self.api_token_scopes])

    @field_validator("promotion_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not DNS1123_LABEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a Kubernetes namespace name ({DNS1123_RULE})")
        return value

    @field_validator("promotion_inference_service")
    @classmethod
    def _inference_service(cls, value: str) -> str:
        if not DNS1035_LABEL.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an InferenceService name (KServe: {DNS1123_RULE}, "
                "starting with a letter)"
            )
        return value

    @field_validator("promotion_storage_uri_prefix")
    @classmethod
    def _storage_prefix(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or not scheme or not rest.strip("/"):
            raise ValueError(
                f"{value!r} is not a storage URI prefix: scheme://bucket[/path], "
                "e.g. s3://mlflow/artifacts"
            )
        return value

    @model_validator(mode="after")
    def _canary(self) -> Settings:
        steps = self.promotion_canary_steps.strip()
        if not steps:
            return self
        if steps != "default":
            parts = [p.strip() for p in steps.split(",")]
            numbers = [int(p) for p in parts if p.isdigit()]
            rising = all(a < b for a, b in itertools.pairwise(numbers))
            if len(numbers) != len(parts) or not rising or numbers[-1] != 100 or numbers[0] < 1:
                raise ValueError(
                    f"APPROVAL_BOT_PROMOTION_CANARY_STEPS {steps!r}: percentages rising to 100, "
                    "e.g. 10,25,50,100, or 'default' (docs/kserve.md, \"Canary\")"
                )
        if not self.prometheus_url.strip():
            raise ValueError(
                "APPROVAL_BOT_PROMOTION_CANARY_STEPS needs APPROVAL_BOT_PROMETHEUS_URL: a canary "
                'is judged on Prometheus (docs/kserve.md, "Canary")'
            )
        return self

    def canary_parameters(self) -> dict[str, Any]:
        """The promotion pipeline's canary parameters: the analysis's (Prometheus, checks)
        whenever Prometheus is configured, for a policy's canary too; the steps and dwell
        only with the target's canary steps."""
        params: dict[str, Any] = {}
        if self.prometheus_url.strip():
            params["prometheus_url"] = self.prometheus_url.strip()
            params["canary_checks"] = self.promotion_canary_checks
        if self.promotion_canary_steps.strip():
            params["canary_steps"] = self.promotion_canary_steps.strip()
            params["canary_dwell_seconds"] = self.promotion_canary_dwell_seconds
        return params

    @field_validator("promotion_request_overrides")
    @classmethod
    def _overrides(cls, value: str) -> str:
        from bot.adapters.kfp.params import parse_overrides

        parse_overrides(value)  # its ValueError names the problem
        return value

    def request_overrides(self) -> frozenset[str]:
        """``APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES`` as parameter names."""
        from bot.adapters.kfp.params import parse_overrides

        return parse_overrides(self.promotion_request_overrides)

    @field_validator("read_access")
    @classmethod
    def _read_access(cls, value: str) -> str:
        ReadAccess.parse(value)  # its ValueError names the problem
        return value.strip()

    def readers(self) -> ReadAccess:
        return ReadAccess.parse(self.read_access)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value  # the default, filled in by _paths
        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                "use sqlite:///path/to/file.db or postgresql://user[:password]@host[:port]/db"
            )
        return value

    def secrets(self) -> list[str]:
        """Every secret value that is set, for log redaction."""
        values = [
            self.api_token,
            self.kfp_token,
            self.mlflow_tracking_password,
            self.mlflow_tracking_token,
            self.audit_key,
            self.audit_verify_keys,
        ]
        out = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        keys = self.audit_keyring()
        out += [k.secret.decode() for k in (keys.current, *keys.retired) if k is not None]
        db_password = make_url(self.database_url).password if "://" in self.database_url else None
        if db_password:
            out.append(str(db_password))
        return out


S = TypeVar("S", bound=BaseSettings)


def validated(cls: type[S]) -> S:
    """Settings of ``cls`` from the environment, or a ConfigError naming each bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "settings"
            lines.append(f"{name}: {str(err['msg']).removeprefix('Value error, ')}")
        raise ConfigError("; ".join(lines)) from None


def load_settings() -> Settings:
    """The core settings from the environment (each channel reads its own: its package's
    ``settings.py``), or a ConfigError naming each bad variable."""
    return validated(Settings)
