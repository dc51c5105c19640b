"""Test suite for approval-bot (unit, integration, pipelines)."""
