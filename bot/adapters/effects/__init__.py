"""Effect handlers that need no external system: logging, console, webhook."""

from bot.adapters.effects.basic import ConsoleChannel, LoggingHandler
from bot.adapters.effects.webhook import WebhookHandler

__all__ = ["ConsoleChannel", "LoggingHandler", "WebhookHandler"]
