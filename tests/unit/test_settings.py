from __future__ import annotations

import pytest

from bot.adapters.registry import message_channels as channels_for
from bot.adapters.registry import read_settings
from bot.adapters.slack.settings import SlackSettings
from bot.settings import Settings


def test_empty_variables_count_as_unset(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    monkeypatch.setenv("APPROVAL_BOT_SLACK_CHANNEL", "C123")
    monkeypatch.setenv("APPROVAL_BOT_CONFIG", "")
    s = Settings()
    assert SlackSettings().bot_token is None and s.config_file is None
    assert channels_for(read_settings()) == ("console",)


def test_secrets_are_listed_for_redaction(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "tok-123456")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-abc")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "mlflow-pw")
    monkeypatch.setenv("APPROVAL_BOT_DATABASE_URL", "postgresql://bot:db-pw@db/approvals")
    s = Settings()
    assert {"tok-123456", "mlflow-pw", "db-pw"} <= set(s.secrets())
    assert "xoxb-abc" in SlackSettings().secrets()  # each channel lists its own
    assert "tok-123456" not in repr(s)


def test_the_default_database_lives_in_the_projects_var_whatever_the_directory(
    monkeypatch, tmp_path
):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    for name in (
        "APPROVAL_BOT_DATABASE_URL",
        "APPROVAL_BOT_DATA_DIR",
        "APPROVAL_BOT_LOCAL_PIPELINE_ROOT",
    ):
        monkeypatch.delenv(name, raising=False)
    project = Path(__file__).resolve().parents[2]
    s = Settings()
    assert s.database_url == f"sqlite:///{project}/var/approval-bot.db"
    assert s.local_pipeline_root == f"{project}/var/kfp-local"


def test_a_relative_sqlite_path_is_made_absolute_once(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_DATABASE_URL", "sqlite:///state/bot.db")
    assert Settings().database_url == f"sqlite:///{tmp_path}/state/bot.db"
    monkeypatch.setenv("APPROVAL_BOT_DATABASE_URL", "postgresql://bot:pw@db/approvals")
    assert Settings().database_url == "postgresql://bot:pw@db/approvals"


def test_a_bad_read_access_is_one_line_naming_the_variable(monkeypatch, tmp_path):
    import pytest

    from bot.domain.errors import ConfigError
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_READ_ACCESS", "sre,")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert str(bad.value).startswith("APPROVAL_BOT_READ_ACCESS: 'sre,' is not a read access")
    monkeypatch.setenv("APPROVAL_BOT_READ_ACCESS", "ml-leads, sre")
    assert load_settings().readers().groups == {"ml-leads", "sre"}


def test_a_malformed_audit_key_is_one_line_naming_the_variable_not_the_secret(
    monkeypatch, tmp_path
):
    import pytest

    from bot.domain.errors import ConfigError
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_AUDIT_KEY", "2026-01:not-long-enough-secret")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    message = str(bad.value)
    assert message.startswith(
        "APPROVAL_BOT_AUDIT_KEY: the secret of key '2026-01' must be 32 to 512 characters"
    )
    assert "\n" not in message and "not-long-enough" not in message
    monkeypatch.setenv("APPROVAL_BOT_AUDIT_KEY", "2026-01:" + "s" * 44)
    monkeypatch.setenv("APPROVAL_BOT_AUDIT_VERIFY_KEYS", "2025-07" + "t" * 44)  # no colon
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert str(bad.value).startswith("APPROVAL_BOT_AUDIT_VERIFY_KEYS: must be KEY_ID:SECRET")
    assert "ttt" not in str(bad.value)


def test_the_audit_keys_are_listed_for_redaction(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_AUDIT_KEY", "2026-01:" + "s" * 44)
    monkeypatch.setenv("APPROVAL_BOT_AUDIT_VERIFY_KEYS", "2025-07:" + "t" * 44)
    s = Settings()
    assert {"s" * 44, "t" * 44} <= set(s.secrets())
    keys = s.audit_keyring()
    assert keys.current is not None and keys.current.id == "2026-01"
    assert [k.id for k in keys.retired] == ["2025-07"]
    assert "s" * 44 not in repr(s) + repr(keys)


def test_the_promotion_target_is_checked_and_named_by_its_variable(monkeypatch, tmp_path):
    import pytest

    from bot.domain.errors import ConfigError
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    bad = {
        "APPROVAL_BOT_PROMOTION_NAMESPACE": ("Models", "is not a Kubernetes namespace name"),
        "APPROVAL_BOT_PROMOTION_INFERENCE_SERVICE": ("9iris", "is not an InferenceService name"),
        "APPROVAL_BOT_PROMOTION_STORAGE_URI_PREFIX": ("mlflow/artifacts", "scheme://bucket"),
        "APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES": (
            "namespace, model_version",
            "'model_version' identifies what was approved",
        ),
    }
    for name, (value, said) in bad.items():
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError) as refused:
            load_settings()
        assert str(refused.value).startswith(f"{name}: "), refused.value
        assert said in str(refused.value)
        monkeypatch.delenv(name)

    monkeypatch.setenv("APPROVAL_BOT_PROMOTION_NAMESPACE", "models")
    monkeypatch.setenv(
        "APPROVAL_BOT_PROMOTION_REQUEST_OVERRIDES", " namespace,,ready_timeout_seconds "
    )
    s = load_settings()
    assert s.promotion_namespace == "models"
    assert s.promotion_inference_service == "iris-serving"
    assert s.promotion_storage_uri_prefix == "s3://mlflow/artifacts"
    assert s.request_overrides() == {"namespace", "ready_timeout_seconds"}


def test_a_canary_for_every_promotion_needs_prometheus(monkeypatch, tmp_path):
    from bot.adapters.kfp.wiring import target
    from bot.domain.errors import ConfigError
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_PROMOTION_CANARY_STEPS", "10,50,100")
    with pytest.raises(ConfigError, match="needs APPROVAL_BOT_PROMETHEUS_URL"):
        load_settings()
    monkeypatch.setenv("APPROVAL_BOT_PROMOTION_CANARY_STEPS", "50,10,100")
    monkeypatch.setenv("APPROVAL_BOT_PROMETHEUS_URL", "http://prometheus:9090")
    with pytest.raises(ConfigError, match="percentages rising to 100"):
        load_settings()
    monkeypatch.setenv("APPROVAL_BOT_PROMOTION_CANARY_STEPS", "10,50,100")
    monkeypatch.setenv("APPROVAL_BOT_PROMOTION_CANARY_DWELL_SECONDS", "120")
    params = target(load_settings())
    assert params["canary_steps"] == "10,50,100" and params["canary_dwell_seconds"] == 120
    assert params["prometheus_url"] == "http://prometheus:9090"
    monkeypatch.delenv("APPROVAL_BOT_PROMOTION_CANARY_STEPS")
    assert "canary_steps" not in target(load_settings())
