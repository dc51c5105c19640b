"""The web console: the embedded default channel (read-only pages over the service)."""
