"""What the bot sends Slack fits what Slack takes, with inputs at the API's own limits, against
the strict fake (``fake_slack.py``): issue 22's Slack defects, one test each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.adapters.slack.ids import Action
from bot.adapters.slack.markup import SlackMarkup
from bot.domain.model import State
from tests.adapters.slack.conftest import BOB, CHANNEL, SlackBot, eventually, running_bot
from tests.adapters.slack.fake_slack import FakeSlack
from tests.builders import directory, policy_patch
from tests.fakes import FakeClock


def failed_gate(name: str) -> dict[str, Any]:
    return {"name": name, "value": 0.2, "threshold": 0.05, "op": "<", "passed": False}


def approve_button(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    actions = next(b for b in blocks if b["type"] == "actions")
    return next(e for e in actions["elements"] if e["action_id"] == Action.APPROVE.value)


def test_failed_gates_past_the_confirm_dialogs_300_characters_are_posted(
    bot: SlackBot, slack: FakeSlack
) -> None:
    """The Approve button's confirmation named every failed gate in mrkdwn, clipped at 2,900
    characters: Slack takes plain_text of at most 300, so with the failed gates' names past
    ~210 characters the request was never posted (``invalid_blocks``, dead-lettered)."""
    bot.container.services.admin.apply(
        directory(policies=policy_patch(allow_override_failed_gates=True))
    )
    names = [f"{'holdout_slice_accuracy_' * 8}{n:02d}" for n in range(16)]  # 186 each
    rid = bot.submit(requested_by="dave", gates=[failed_gate(n) for n in names])
    bot.message(rid)
    [post] = slack.calls("chat.postMessage")
    confirm = approve_button(post["blocks"])["confirm"]
    assert confirm["text"]["type"] == "plain_text"
    assert len(confirm["text"]["text"]) <= 300
    assert names[0] in confirm["text"]["text"] and "+15 more" in confirm["text"]["text"]
    gates = next(b["text"]["text"] for b in post["blocks"] if "*Gates*" in str(b))
    assert len(gates) <= 3000 and "more" in gates

    bot.click(Action.APPROVE, rid, BOB)  # Slack asked bob to confirm: the override counts
    eventually(lambda: bot.container.services.queries.get(rid).votes, "bob's override")
    assert bot.container.services.queries.get(rid).votes[0].override


def test_a_model_named_like_a_channel_mention_pings_nobody(
    sqlite_url: str, slack: FakeSlack
) -> None:
    """Names come from pipelines: ``<!here>`` and ``@channel`` in one must stay text in the
    message, its fallback text, the reminders and the escalation (issue 18 escaped the
    first; a bare ``@here`` in a mrkdwn text object Slack parses unless it is verbatim)."""
    clock = FakeClock()
    with running_bot(sqlite_url, slack, clock=clock) as bot:
        bot.container.services.admin.apply(
            directory(
                policies=policy_patch(
                    deadline="4h", remind_every="1h", escalate_after="2h", escalate_to="sre"
                )
            )
        )
        name = "<!here> @channel & <@U02BOB> @everyone"
        rid = bot.submit(model_name=name, requested_by="dave")
        ref = bot.message(rid)
        bot.command("pending", BOB)  # lists the name in a section, through the response URL
        eventually(slack.responses, "the pending list")
        clock.advance(hours=2, minutes=1)
        eventually(
            lambda: len(slack.posts(CHANNEL, thread_ts=ref["ts"])) >= 2, "reminder, escalation"
        )
    assert SlackMarkup().escape(name) in slack.responses()[0]["text"]
    assert slack.pings == []
    [post] = slack.calls("chat.postMessage")[:1]
    assert "&lt;!here&gt; @channel &amp; &lt;@U02BOB&gt;" in post["text"]
    for reply in slack.posts(CHANNEL, thread_ts=ref["ts"]):
        assert "&lt;!here&gt;" in reply["text"] and "<!here>" not in reply["text"]
    assert all(
        t.get("verbatim") is True
        for b in post["blocks"]
        for t in [b.get("text") or {}, *b.get("fields", []), *b.get("elements", [])]
        if t.get("type") == "mrkdwn"
    )


@pytest.mark.parametrize(
    "reason", ["<!channel> " + "&" * 1989, "é" * 2000], ids=["mentions-and-ampersands", "accents"]
)
def test_a_reject_reason_at_its_limit_shows_in_a_message_slack_takes(
    bot: SlackBot, slack: FakeSlack, reason: str
) -> None:
    rid = bot.submit()
    ref = bot.message(rid)
    bot.click(Action.REJECT, rid, BOB)
    eventually(lambda: slack.calls("views.open"), "the reject modal")
    view = slack.calls("views.open")[0]["view"]
    assert bot.submit_modal(view, BOB, reason).status_code == 200
    shown = bot.wait_update(ref, lambda b: "Rejected" in b, "the rejected message")
    assert bot.container.services.queries.get(rid).state is State.REJECTED
    decision = str(json.loads(shown)[-1])
    assert ("&lt;!channel&gt;" if reason.startswith("<") else "éé") in decision
    assert "<!channel>" not in decision
    assert slack.pings == []
