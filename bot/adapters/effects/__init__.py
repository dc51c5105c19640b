"""Effect handlers that need no system of their own: the webhook."""

from bot.adapters.effects.webhook import WebhookHandler

__all__ = ["WebhookHandler"]
