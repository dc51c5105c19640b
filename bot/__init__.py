"""approval-bot: a human approval gate for ML model promotion."""

__version__ = "0.1.0"
