"""The Telegram channel's settings (README.md, "Connect Telegram"; docs/configuration.md)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from bot.adapters.plugin import ChannelSettings
from bot.domain.errors import ConfigError

DOCS = "README.md, Connect Telegram"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CHAT = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class TelegramSettings(ChannelSettings):
    bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    chat_id: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_TELEGRAM_CHAT_ID"))
    mode: Literal["webhook", "polling"] = Field(
        "webhook", validation_alias=_env("APPROVAL_BOT_TELEGRAM_MODE")
    )
    webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET")
    )
    api_url: str = Field(
        "https://api.telegram.org/bot", validation_alias=_env("APPROVAL_BOT_TELEGRAM_API_URL")
    )

    def wanted(self) -> bool:
        return self.bot_token is not None

    def check(self) -> None:
        chat = self.chat_id
        if not chat:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is set but APPROVAL_BOT_TELEGRAM_CHAT_ID is not: set the "
                f"id of the chat to post requests to ({DOCS})"
            )
        if not _CHAT.fullmatch(chat.strip()):
            raise ConfigError(
                f"APPROVAL_BOT_TELEGRAM_CHAT_ID: {chat[:40]!r} is not a chat id (a number such "
                f"as -1001234567890, or @channelname) ({DOCS})"
            )
        if self.mode != "webhook":
            return
        if self.webhook_secret is None:
            raise ConfigError(
                "APPROVAL_BOT_TELEGRAM_MODE is webhook (the default) but "
                "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET is not set: set it, or set "
                f"APPROVAL_BOT_TELEGRAM_MODE=polling ({DOCS})"
            )
        if not _SECRET.fullmatch(self.webhook_secret.get_secret_value()):
            raise ConfigError(
                "APPROVAL_BOT_TELEGRAM_WEBHOOK_SECRET: use 1-256 characters of A-Z, a-z, "
                f"0-9, _ and - (Telegram's rule) ({DOCS})"
            )

    def secrets(self) -> list[str]:
        values = (self.bot_token, self.webhook_secret)
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
