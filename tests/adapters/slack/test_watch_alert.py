"""A divergence's alert in Slack (docs/watch.md): posted with Deploy the champion and Move the
alias back, each confirmed first; a click is authorized like a rollback (the policy's
rollback_groups, else its approver groups), audited, and updates the alert (who asked, no more
buttons); a bot that cannot deploy says why at the click."""

from __future__ import annotations

import json

from bot.adapters.slack.ids import Action
from bot.domain.names import EventKind
from tests import builders
from tests.adapters.slack.conftest import CAROL, DAVE, SlackBot, eventually
from tests.adapters.slack.fake_slack import OTHER_TEAM


def alert_post(bot: SlackBot) -> dict:
    eventually(
        lambda: [p for p in bot.slack.posts() if "disagree" in p.get("text", "")], "the alert"
    )
    return next(p for p in bot.slack.posts() if "disagree" in p.get("text", ""))


def actions(blocks: list[dict]) -> list[dict]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_the_alert_offers_both_ways_out_and_a_click_takes_one(bot: SlackBot) -> None:
    services = bot.container.services
    did = builders.diverge(services)
    bot.container.kick()
    post = alert_post(bot)
    buttons = actions(post["blocks"])
    assert [b["action_id"] for b in buttons] == [Action.DEPLOY_CHAMPION, Action.ALIAS_BACK]
    assert all(b["value"] == did and b["confirm"]["text"]["type"] == "plain_text" for b in buttons)

    bot.click(Action.ALIAS_BACK, did, DAVE)  # in no group
    eventually(lambda: bot.slack.ephemerals(DAVE), "a refusal to dave")
    assert "may not act on iris-classifier's divergence" in bot.slack.ephemerals(DAVE)[0]

    bot.click(Action.DEPLOY_CHAMPION, did, CAROL)  # this bot has no launcher (none)
    eventually(lambda: bot.slack.ephemerals(CAROL), "a refusal to carol")
    assert "cannot deploy the champion" in bot.slack.ephemerals(CAROL)[0]
    assert "APPROVAL_BOT_LAUNCHER=none" in bot.slack.ephemerals(CAROL)[0]

    bot.click(Action.ALIAS_BACK, did, CAROL, team=OTHER_TEAM)  # another workspace's user
    eventually(lambda: len(bot.slack.ephemerals(CAROL)) > 1, "a refusal to the stranger")
    assert services.watch.view(did).asked is None

    response = bot.click(Action.ALIAS_BACK, did, CAROL)  # the alert's update tells her
    assert response.status_code == 200

    def updated() -> list[dict]:
        return [u for u in bot.slack.calls("chat.update") if u["ts"] == post["ts"]]

    eventually(updated, "the alert updated")
    shown = updated()[-1]
    assert "*carol* asked to move @champion back to the served version" in json.dumps(
        shown["blocks"], ensure_ascii=False
    )
    assert actions(shown["blocks"]) == [], "one way out at a time: no more buttons"
    assert len(bot.slack.ephemerals(CAROL)) == 2, "a click that worked costs no message"
    with services.uow(readonly=True) as uow:
        asked = [r for r in uow.audit.records(None) if r.kind == EventKind.SERVING_ALIAS_BACK]
    assert [r.actor for r in asked] == ["carol"]
