"""Effect handlers that need no system of their own: the webhook (``effects.webhook``)."""
