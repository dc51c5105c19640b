"""The webhook (``APPROVAL_BOT_WEBHOOK_URL``): every effect without a handler of its own is
POSTed there as JSON with an ``Idempotency-Key`` header (called by the registry first).

Without it, an effect whose system is not configured waits, visibly, until a process that
has the system delivers it; nothing is ever marked delivered that was not.
"""

from __future__ import annotations

from bot.adapters.plugin import Wiring


def wire(wiring: Wiring) -> None:
    url = wiring.settings.webhook_url
    if url:
        from bot.adapters.effects.webhook import WebhookHandler  # httpx: only when used

        webhook = WebhookHandler(url)
        wiring.add_effect_handler("*", webhook)
        wiring.on_stop(webhook.aclose)  # close its connection pool on stop
