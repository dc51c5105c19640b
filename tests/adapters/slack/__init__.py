"""The Slack channel: the real ASGI app, a fake Slack Web API, signed requests."""
