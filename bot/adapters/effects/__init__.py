"""Effect handlers that need no external system: logging, webhook."""

from bot.adapters.effects.basic import LoggingHandler
from bot.adapters.effects.webhook import WebhookHandler

__all__ = ["LoggingHandler", "WebhookHandler"]
