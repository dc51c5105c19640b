"""The request message's Block Kit, rendered from the chat core's message (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.adapters.slack.markup import SlackMarkup
from bot.domain.model import ApprovalRequest, GateResult, Person, Policy, State
from bot.domain.quorum import Rule
from bot.service.chat import texts
from bot.service.chat.message import compose
from bot.service.chat.rich import Reply
from tests.adapters.slack import block_kit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MARKUP = SlackMarkup()
esc = MARKUP.escape


def request_blocks(request: ApprovalRequest, policy: Policy | None, problem: str | None = None):
    return MARKUP.message(compose(request, policy, problem=problem)).blocks


def _request(*, failed: bool, policy: Policy) -> ApprovalRequest:
    gates = (
        GateResult("latency_p99_ms", 2.34, 100, "<=", True),
        GateResult("disagreement_rate", 0.2 if failed else 0.0, 0.05, "<", not failed),
        GateResult("challenger_accuracy", 0.97, 0.95, ">=", True),
    )
    return ApprovalRequest.submit(
        model_name="iris-classifier",
        model_version="4",
        requested_by="alice",
        policy=policy,
        now=NOW,
        gates=gates,
    )


def _approve_button(blocks: list[dict]) -> dict:
    actions = next(b for b in blocks if b["type"] == "actions")
    return next(e for e in actions["elements"] if e["action_id"] == "approval:v1:approve")


def test_failed_gates_with_override_allowed_ask_for_confirmation() -> None:
    policy = Policy("*", (Rule("ml-leads", 1),), allow_override_failed_gates=True)
    blocks = request_blocks(_request(failed=True, policy=policy), policy)
    confirm = _approve_button(blocks)["confirm"]
    assert "disagreement_rate" in confirm["text"]["text"]
    # mrkdwn wants < escaped (Slack shows &lt; as <; a bare one may start a link)
    assert "❌ `disagreement_rate` = 0.2 (threshold &lt; 0.05)" in json.dumps(
        blocks, ensure_ascii=False
    )


def test_passed_gates_need_no_confirmation() -> None:
    policy = Policy("*", (Rule("ml-leads", 1),), allow_override_failed_gates=True)
    blocks = request_blocks(_request(failed=False, policy=policy), policy)
    assert "confirm" not in _approve_button(blocks)
    assert "(threshold ≥ 0.95)" in json.dumps(blocks, ensure_ascii=False)


def test_failed_gates_without_override_say_so() -> None:
    policy = Policy("*", (Rule("ml-leads", 1),))
    blocks = request_blocks(_request(failed=True, policy=policy), policy)
    assert "does not allow approving over them" in json.dumps(blocks)


def test_user_text_is_escaped() -> None:
    assert esc("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_a_launch_problem_is_shown_on_the_message():
    problem = "promotion could not start: boom — retry with `approval-bot outbox retry 7`"
    request = _request(failed=False, policy=Policy(model="*", rules=(Rule("sre", 1),)))
    shown = json.dumps(request_blocks(request, None, problem=problem), ensure_ascii=False)
    assert "promotion could not start: boom" in shown
    assert "approval-bot outbox retry 7" in shown


def test_a_failed_promotion_shows_why() -> None:
    policy = Policy(model="*", rules=(Rule("ml-leads", 1),))
    request = _request(failed=False, policy=policy)
    request.state = State.PROMOTING
    request.promotion_run_id = "run-7"
    request.finish_promotion(
        succeeded=False,
        detail="KFP run run-7 FAILED: rolled back: iris-serving never became Ready <in 600 s>",
        now=NOW,
    )
    text = json.dumps(request_blocks(request, policy))
    assert "promotion_failed" in text
    assert "rolled back: iris-serving never became Ready &lt;in 600 s&gt;" in text


def test_the_notification_and_the_reminders_escape_what_came_from_outside() -> None:
    """A model named ``<!here>`` must not ping the channel (the blocks always escaped it; the
    notification text and the reminders did not)."""
    policy = Policy(model="*", rules=(Rule("ml-leads", 1),))
    request = ApprovalRequest.submit(
        model_name="<!here>", model_version="1", requested_by="alice", policy=policy, now=NOW
    )
    message = MARKUP.message(compose(request, policy))
    assert "<!here>" not in message.text and "&lt;!here&gt;" in message.text
    reminder = texts.reminder(request, escalated_to=None, people=[Person.of("bob", slack="U2")])
    said = MARKUP.reply(Reply((reminder,))).text
    assert "<!here>" not in said and "&lt;!here&gt;" in said
    assert "<@U2>" in said  # a mention is markup, not text: it still notifies


def test_a_cut_never_splits_an_entity_or_a_link() -> None:
    assert MARKUP.clip("tom &amp; jerry", 8) == "tom …"
    assert MARKUP.clip("see <https://x.example/abcdef|the run> now", 20) == "see …"
    assert MARKUP.clip("short", 5) == "short"


def test_fifty_gates_at_their_longest_show_what_fits_and_how_many_more() -> None:
    policy = Policy("*", (Rule("ml-leads", 1),), allow_override_failed_gates=True)
    gates = tuple(
        GateResult(f"{n:02d}" + "<&>" * 66, 0.2, 0.05, "<", False) for n in range(50)
    )  # 200 characters each, 1,000 once escaped
    request = ApprovalRequest.submit(
        model_name="m", model_version="1", requested_by="alice", policy=policy, now=NOW, gates=gates
    )
    blocks = request_blocks(request, policy)
    section = next(
        t for b in blocks if (t := b.get("text", {}).get("text", "")).startswith("*Gates*")
    )
    assert len(section) <= 3000 and section.endswith(" more")
    shown = section.count("❌")
    assert f"… +{50 - shown} more" in section
    assert block_kit.message_problems(blocks) == []
    confirm = _approve_button(blocks)["confirm"]["text"]
    assert confirm["type"] == "plain_text" and len(confirm["text"]) <= 300
    assert "<&>" in confirm["text"]  # plain_text: as it is, escaped by nobody


def test_a_request_under_a_canary_policy_says_what_approving_starts() -> None:
    from bot.domain.policy import CanarySpec

    policy = Policy("*", (Rule("ml-leads", 1),), canary=CanarySpec((10, 50, 100), 90))
    request = _request(failed=False, policy=policy)
    shown = json.dumps(request_blocks(request, policy), ensure_ascii=False)
    assert (
        "*On approval: a canary* 10% → 50% → 100%, 90 s per step, rolled back automatically"
    ) in shown
    plain = Policy("*", (Rule("ml-leads", 1),))
    assert "On approval" not in json.dumps(
        request_blocks(_request(failed=False, policy=plain), plain), ensure_ascii=False
    )
