"""The veto window in Slack (README.md, "Rules"): the message says when the request promotes,
with Reject and Approve now, and shows the policy's decision when the window ends."""

from __future__ import annotations

import json

from bot.adapters.slack.ids import Action
from tests.adapters.slack.conftest import BOB, running_bot
from tests.adapters.slack.fake_slack import FakeSlack
from tests.builders import directory, policy_patch
from tests.fakes import FakeClock


def test_the_message_says_when_it_promotes_and_then_shows_the_policys_decision(
    sqlite_url: str, slack: FakeSlack
) -> None:
    clock = FakeClock()  # 2026-01-05 09:00 UTC; the scans' time moves when the test says so
    with running_bot(sqlite_url, slack, clock=clock) as bot:
        bot.container.services.admin.apply(
            directory(policies=policy_patch(auto_approve_after="30m"))
        )
        rid = bot.submit(requested_by="dave")
        ref = bot.message(rid)
        [post] = [c for c in slack.calls("chat.postMessage") if not c.get("thread_ts")]
        blocks = post["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        shown = json.dumps(blocks, ensure_ascii=False)
        # A date Slack shows in the reader's zone, 09:30 UTC where it cannot.
        assert "⏱️ Promotes at <!date^1767605400^" in shown
        assert "|2026-01-05 09:30 UTC> unless rejected" in shown
        assert "veto window of policy `*`" in shown
        [actions] = [b for b in blocks if b["type"] == "actions"]
        labels = {e["action_id"]: e["text"]["text"] for e in actions["elements"]}
        assert labels == {Action.APPROVE.value: "Approve now", Action.REJECT.value: "Reject"}

        bot.click(Action.APPROVE, rid, BOB)  # a vote: ml-leads is met, sre is not
        counted = bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "bob's vote")
        assert "unless rejected" in counted, "the window goes on"

        clock.advance(minutes=30)
        final = bot.wait_update(ref, lambda b: "Approved" in b, "the policy's decision")
        assert "system:auto" in final and "policy '*'" in final
        assert "approval:v1:approve" not in final and "unless rejected" not in final
