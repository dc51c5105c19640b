"""The Telegram channel: HTML messages, inline buttons, reply prompts and commands, by
webhook or long polling. Registered by ``SPEC``; python-telegram-bot is imported only once
``TELEGRAM_BOT_TOKEN`` asks for the channel."""

from __future__ import annotations

from bot.adapters.plugin import ChannelSpec
from bot.adapters.telegram.settings import TelegramSettings
from bot.service.identity import IdentityKind

# The ids Telegram puts in ``from`` for what no person sent (``telegram.constants.ChatID``;
# Bot API, Message.from: "contains a fake sender user in non-channel chats"): nobody's id.
ANONYMOUS_ADMIN, FAKE_CHANNEL, SERVICE_CHAT = 1087968824, 136817688, 777000
STAND_INS = (
    (str(ANONYMOUS_ADMIN), "Telegram's GroupAnonymousBot (every anonymous group admin)"),
    (str(FAKE_CHANNEL), "Telegram's Channel_Bot (whoever writes as a channel)"),
    (str(SERVICE_CHAT), "Telegram's service account (channel posts forwarded to a group)"),
)
# "at most 52 significant bits" (Bot API, User.id): a larger number is nobody.
USER = IdentityKind(
    "telegram",
    "Telegram user id",
    "Telegram account",
    r"[1-9][0-9]{0,15}",
    "1001",
    max_value=2**52 - 1,
    reserved=STAND_INS,
)
SPEC = ChannelSpec(__name__, TelegramSettings, USER)
