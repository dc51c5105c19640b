"""The effects no other adapter takes (called by the registry before the effect systems).

With ``APPROVAL_BOT_WEBHOOK_URL`` every effect without a handler of its own is POSTed
there (``*``); without it, the decision effects of systems that are not configured
(``mlflow``, ``kfp``) are logged. A chat effect never falls through to the log: its
channel delivers it, or it is dead-lettered naming the missing handler.
"""

from __future__ import annotations

from bot.adapters.effects.basic import LoggingHandler
from bot.adapters.effects.webhook import WebhookHandler
from bot.adapters.wiring import Registry

SYSTEMS = ("mlflow", "kfp")


def wire(registry: Registry) -> None:
    url = registry.settings.webhook_url
    if url:
        webhook = WebhookHandler(url)
        registry.add_effect_handler("*", webhook)
        registry.on_stop(webhook.aclose)  # close its connection pool on stop
        return
    for family in SYSTEMS:
        registry.add_effect_handler(family, LoggingHandler())
