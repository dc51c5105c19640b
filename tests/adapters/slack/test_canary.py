"""A running canary in Slack: the request's message shows the step, the traffic split and the
analysis, with Pause / Resume / Roll back / Promote now; each click is authorized (approver
groups; a rollback: the policy's rollback_groups) and audited, and `/approvals rollback ID`
does the same (bot/service/chat/rollout.py)."""

from __future__ import annotations

import json

from bot.adapters.slack.ids import Action
from tests.adapters.slack.conftest import BOB, CAROL, DAVE, SlackBot, eventually

PROGRESS = {
    "phase": "analysed",
    "step": 25,
    "steps": [10, 25, 50, 100],
    "traffic": {"iris-predictor-00002": 25, "iris-predictor-00001": 75},
    "analysis": [
        {
            "check": "error_ratio",
            "canary": 0.002,
            "previous": 0.001,
            "limit": 0.011,
            "passed": True,
            "reason": "",
        }
    ],
    "passed": True,
}


def promoting(bot: SlackBot) -> tuple[str, dict]:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    services = bot.container.services
    bot.click(Action.APPROVE, rid, BOB)
    bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "bob's vote")
    bot.click(Action.APPROVE, rid, CAROL)
    bot.wait_update(ref, lambda b: "Approved" in b, "the decision")
    services.commands.promotion_started(rid, "run-1")
    services.rollouts.report(rid, PROGRESS)
    bot.container.kick()
    return rid, ref


def actions_of(blocks: str) -> list[str]:
    return [
        e["action_id"] for b in json.loads(blocks) if b["type"] == "actions" for e in b["elements"]
    ]


def controlled(bot: SlackBot, rid: str) -> list[tuple[str, str]]:
    queries = bot.container.services.queries
    history = queries.history([queries.get(rid)])[rid]
    return [(r.actor, r.data["action"]) for r in history if r.kind == "rollout_controlled"]


def test_the_message_shows_the_canary_and_its_buttons_steer_it(bot: SlackBot) -> None:
    rid, ref = promoting(bot)
    shown = bot.wait_update(ref, lambda b: "Canary" in b, "the canary on the message")
    shown = json.dumps(json.loads(shown), ensure_ascii=False)
    assert "analysed at 25%" in shown and "10% → 25% → 50% → 100%" in shown
    assert "iris-predictor-00002 25%" in shown and "iris-predictor-00001 75%" in shown
    assert "error_ratio" in shown and "canary 0.002, previous 0.001, limit 0.011" in shown
    assert actions_of(shown) == [Action.PAUSE, Action.ROLLBACK, Action.PROMOTE_NOW]

    bot.click(Action.PAUSE, rid, BOB)
    paused = bot.wait_update(ref, lambda b: "paused by" in b, "the pause on the message")
    assert actions_of(paused) == [Action.RESUME, Action.ROLLBACK, Action.PROMOTE_NOW]
    assert bot.container.services.rollouts.view(rid).control == "pause"

    bot.click(Action.PAUSE, rid, CAROL)  # a second pause changes nothing, and says so
    eventually(lambda: bot.slack.ephemerals(CAROL), "a note to carol")
    assert "paused already" in bot.slack.ephemerals(CAROL)[0]

    bot.click(Action.ROLLBACK, rid, DAVE)  # not an approver, not in rollback_groups
    eventually(lambda: bot.slack.ephemerals(DAVE), "a refusal to dave")
    assert "only ml-leads, sre may roll back" in bot.slack.ephemerals(DAVE)[0]

    response = bot.command(f"rollback {rid}", CAROL)
    assert response.status_code == 200
    eventually(lambda: bot.container.services.rollouts.view(rid).control == "rollback", "rb")
    rolled = bot.wait_update(ref, lambda b: "rollback asked by" in b, "the rollback shown")
    assert actions_of(rolled) == []
    assert controlled(bot, rid) == [("bob", "pause"), ("carol", "rollback")]
