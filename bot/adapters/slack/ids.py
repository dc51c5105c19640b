"""Identifiers Slack sends back to us: versioned, so old messages keep working.

A message posted today carries these ids for as long as it lives in Slack; when a
payload's shape changes, add ``v2`` ids and keep answering ``v1``.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """``action_id`` of the buttons on a request message (the value is the request id)."""

    APPROVE = "approval:v1:approve"
    REJECT = "approval:v1:reject"
    # a running canary (bot/service/chat/rollout.py)
    PAUSE = "approval:v1:rollout:pause"
    RESUME = "approval:v1:rollout:resume"
    ROLLBACK = "approval:v1:rollout:rollback"
    PROMOTE_NOW = "approval:v1:rollout:promote_now"
    # a divergence's alert (bot/service/chat/alerts.py); the value is the divergence id
    DEPLOY_CHAMPION = "approval:v1:watch:deploy_champion"
    ALIAS_BACK = "approval:v1:watch:alias_back"


class View(StrEnum):
    """``callback_id`` of modals (``private_metadata`` carries the request id)."""

    REJECT = "approval:v1:reject_modal"


class Block(StrEnum):
    """``block_id`` / ``action_id`` of inputs, used to read values and to place errors."""

    REASON = "approval:v1:reason"
    REASON_INPUT = "approval:v1:reason_input"
    ACTIONS = "approval:v1:actions"
    ROLLOUT = "approval:v1:rollout"
    WATCH = "approval:v1:watch"


COMMAND = "/approvals"
