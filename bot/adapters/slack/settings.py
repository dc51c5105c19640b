"""The Slack channel's settings (README.md, "Connect Slack"; docs/configuration.md)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from bot.adapters.plugin import ChannelSettings
from bot.domain.errors import ConfigError

DOCS = "README.md, Connect Slack"


class SlackSettings(ChannelSettings):
    bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    channel: str | None = Field(None, validation_alias=AliasChoices("APPROVAL_BOT_SLACK_CHANNEL"))
    api_url: str = Field(
        "https://slack.com/api/", validation_alias=AliasChoices("APPROVAL_BOT_SLACK_API_URL")
    )

    def wanted(self) -> bool:
        return self.bot_token is not None

    def check(self) -> None:
        if self.signing_secret is None and self.app_token is None:
            raise ConfigError(
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) nor "
                f"SLACK_APP_TOKEN (Socket Mode) is: set one ({DOCS})"
            )
        if not self.channel:
            raise ConfigError(
                "SLACK_BOT_TOKEN is set but APPROVAL_BOT_SLACK_CHANNEL is not: set the id of "
                f"the channel to post requests to ({DOCS})"
            )

    def secrets(self) -> list[str]:
        values = (self.bot_token, self.signing_secret, self.app_token)
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
