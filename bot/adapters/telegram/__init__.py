"""The Telegram channel: HTML messages, inline buttons, reply prompts and commands, by
webhook or long polling. Registered by ``SPEC``; python-telegram-bot is imported only once
``TELEGRAM_BOT_TOKEN`` asks for the channel."""

from __future__ import annotations

from bot.adapters.plugin import ChannelSpec
from bot.adapters.telegram.settings import TelegramSettings
from bot.service.identity import IdentityKind

# "at most 52 significant bits" (Bot API, User.id): a larger number is nobody.
USER = IdentityKind(
    "telegram",
    "Telegram user id",
    "Telegram account",
    r"[1-9][0-9]{0,15}",
    "1001",
    max_value=2**52 - 1,
)
SPEC = ChannelSpec(__name__, TelegramSettings, USER)
