from __future__ import annotations

from bot.adapters.registry import message_channels as channels_for
from bot.settings import Settings


def test_empty_variables_count_as_unset(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    monkeypatch.setenv("APPROVAL_BOT_SLACK_CHANNEL", "C123")
    monkeypatch.setenv("APPROVAL_BOT_CONFIG", "")
    s = Settings()
    assert s.slack_bot_token is None and s.config_file is None
    assert channels_for(s) == ("console",)


def test_secrets_are_listed_for_redaction(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_API_TOKEN", "tok-123456")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-abc")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "mlflow-pw")
    monkeypatch.setenv("APPROVAL_BOT_DATABASE_URL", "postgresql://bot:db-pw@db/approvals")
    s = Settings()
    assert {"tok-123456", "xoxb-abc", "mlflow-pw", "db-pw"} <= set(s.secrets())
    assert "tok-123456" not in repr(s)
