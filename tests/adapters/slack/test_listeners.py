"""Buttons and the reject modal, through the real app and Bolt, against a fake Slack."""

from __future__ import annotations

import json
import time

from bot.adapters.slack.ids import Action, Block, View
from bot.domain.model import State
from tests.adapters.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    STRANGER,
    SlackBot,
    eventually,
)


def test_forged_signature_is_refused(bot: SlackBot) -> None:
    rid = bot.submit()
    response = bot.click(Action.APPROVE, rid, BOB, secret="not-the-signing-secret")
    assert response.status_code == 401
    assert bot.container.services.queries.get(rid).votes == []


def test_timestamp_older_than_five_minutes_is_refused(bot: SlackBot) -> None:
    rid = bot.submit()
    response = bot.click(Action.APPROVE, rid, BOB, timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert bot.container.services.queries.get(rid).votes == []


def test_redelivery_is_acknowledged_and_ignored(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    response = bot.click(Action.APPROVE, rid, BOB, headers={"X-Slack-Retry-Num": "1"})
    assert response.status_code == 200
    # A later, ordinary click is handled, and the redelivery left no vote behind.
    assert bot.click(Action.APPROVE, rid, CAROL).status_code == 200
    eventually(lambda: bot.container.services.queries.get(rid).votes, "carol's vote")
    assert [v.person for v in bot.container.services.queries.get(rid).votes] == ["carol"]


def test_the_request_message_shows_the_evidence_and_buttons(bot: SlackBot) -> None:
    rid = bot.submit()
    ref = bot.message(rid)
    [post] = bot.slack.calls("chat.postMessage")
    assert post["channel"] == ref["channel"]
    text = json.dumps(post["blocks"])
    assert "iris-classifier v3" in text
    assert "no champion yet" in text
    assert "latency_p99_ms" in text
    assert "http://mlflow.local/#/runs/x" in text
    actions = next(b for b in post["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [
        "approval:v1:approve",
        "approval:v1:reject",
    ]
    assert all(e["value"] == rid for e in actions["elements"])


def test_someone_not_enrolled_is_told_why_and_no_vote_is_cast(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    response = bot.click(Action.APPROVE, rid, STRANGER)
    assert response.status_code == 200
    eventually(lambda: bot.slack.ephemerals(STRANGER), "an ephemeral answer to the stranger")
    [text] = bot.slack.ephemerals(STRANGER)
    assert "not enrolled" in text
    assert STRANGER in text
    assert bot.container.services.queries.get(rid).votes == []
    history = bot.container.services.queries.history([bot.container.services.queries.get(rid)])[rid]
    denied = [r for r in history if r.kind == "denied"]
    assert len(denied) == 1
    assert denied[0].actor == f"slack user {STRANGER}"


def test_the_requester_may_not_approve_their_own_request(bot: SlackBot) -> None:
    rid = bot.submit(requested_by="alice")
    bot.message(rid)
    bot.click(Action.APPROVE, rid, ALICE)
    eventually(lambda: bot.slack.ephemerals(ALICE), "an ephemeral answer to alice")
    [text] = bot.slack.ephemerals(ALICE)
    assert "self-approval" in text
    assert bot.container.services.queries.get(rid).votes == []


def test_a_person_outside_the_approver_groups_is_told_so(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    bot.click(Action.APPROVE, rid, DAVE)
    eventually(lambda: bot.slack.ephemerals(DAVE), "an ephemeral answer to dave")
    assert "not a member of an approver group" in bot.slack.ephemerals(DAVE)[0]


def test_full_flow_to_approved_updates_the_message_after_each_vote(bot: SlackBot) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)

    started = time.monotonic()
    assert bot.click(Action.APPROVE, rid, BOB).status_code == 200
    assert time.monotonic() - started < 3.0  # Slack gives up after 3 s
    first = bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "the update after bob")
    assert "approval:v1:approve" in first  # still pending: buttons stay

    bot.click(Action.APPROVE, rid, CAROL)
    final = bot.wait_update(
        ref, lambda b: "Approved" in b and "approval:v1:approve" not in b, "the decided update"
    )
    assert "by bob, carol" in final
    assert "quorum met" in final
    assert bot.container.services.queries.get(rid).state is State.APPROVED
    assert len(bot.slack.calls("chat.postMessage")) == 1  # one message, updated in place


def test_a_double_click_counts_once_and_is_answered_politely(bot: SlackBot) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    bot.click(Action.APPROVE, rid, BOB)
    bot.wait_update(ref, lambda b: "ml-leads 1/1 (bob)" in b, "the update after bob")
    bot.click(Action.APPROVE, rid, BOB)
    eventually(lambda: bot.slack.ephemerals(BOB), "a note to bob")
    assert "already voted" in bot.slack.ephemerals(BOB)[0]
    assert len(bot.container.services.queries.get(rid).votes) == 1


def test_a_click_on_a_decided_request_changes_nothing(bot: SlackBot) -> None:
    rid = bot.submit(requested_by="dave")
    ref = bot.message(rid)
    bot.click(Action.APPROVE, rid, BOB)
    bot.click(Action.APPROVE, rid, CAROL)
    bot.wait_update(ref, lambda b: "Approved" in b, "the decided update")
    bot.click(Action.APPROVE, rid, ALICE)
    eventually(lambda: bot.slack.ephemerals(ALICE), "a note to alice")
    assert "already approved" in bot.slack.ephemerals(ALICE)[0]
    assert len(bot.container.services.queries.get(rid).votes) == 2


def test_reject_through_the_modal_with_a_reason(bot: SlackBot) -> None:
    rid = bot.submit()
    ref = bot.message(rid)
    assert bot.click(Action.REJECT, rid, BOB).status_code == 200
    eventually(lambda: bot.slack.calls("views.open"), "the reject modal to open")
    [opened] = bot.slack.calls("views.open")
    assert opened["trigger_id"] == f"trigger-{BOB}-{Action.REJECT.value}"
    view = opened["view"]
    assert view["callback_id"] == View.REJECT.value
    assert any(b.get("block_id") == Block.REASON.value for b in view["blocks"])

    empty = bot.submit_modal(view, BOB, "   ")
    assert empty.status_code == 200
    assert empty.json()["response_action"] == "errors"
    assert "reason is required" in empty.json()["errors"][Block.REASON.value]
    assert bot.container.services.queries.get(rid).is_pending

    done = bot.submit_modal(view, BOB, "accuracy dropped on the holdout set")
    assert done.status_code == 200
    assert not done.content  # an empty 200 closes the modal
    request = bot.container.services.queries.get(rid)
    assert request.state is State.REJECTED
    assert request.reason == "accuracy dropped on the holdout set"
    final = bot.wait_update(ref, lambda b: "Rejected" in b, "the rejected update")
    assert "accuracy dropped on the holdout set" in final
    assert "approval:v1:reject" not in final


def test_a_refused_reject_is_shown_in_the_modal(bot: SlackBot) -> None:
    rid = bot.submit()
    bot.message(rid)
    bot.click(Action.REJECT, rid, DAVE)
    eventually(lambda: bot.slack.calls("views.open"), "the reject modal to open")
    view = bot.slack.calls("views.open")[0]["view"]
    answer = bot.submit_modal(view, DAVE, "looks wrong").json()
    assert answer["response_action"] == "errors"
    assert "not a member of an approver group" in answer["errors"][Block.REASON.value]
    assert bot.container.services.queries.get(rid).is_pending
