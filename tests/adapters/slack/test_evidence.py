"""The evidence pictures in Slack: uploaded into the request message's thread with Slack's
three-step upload (files.getUploadURLExternal, the bytes, files.completeUploadExternal),
each with its alt text; an outbox effect of its own, once across a lost answer and two
replicas, never holding back the request's message (README.md, "Evidence")."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.effects import CHAT_EVIDENCE, CHAT_POST
from bot.domain.names import OutboxState
from tests.adapters.slack.conftest import CHANNEL, SlackBot, eventually
from tests.adapters.slack.fake_slack import FakeSlack
from tests.adapters.slack.test_double_posts import handler, item, redelivered, two_replicas
from tests.builders import submission
from tests.support.pictures import b64, jpeg, png

__all__ = ["two_replicas"]  # the fixture, shared with test_double_posts.py

PICTURES = [png(40, 20), jpeg(30, 15)]
ALTS = ["Latency: p99 2.70 ms, within the 100 ms threshold.", "Accuracy 96.67% vs 96.67%."]
EVIDENCE = [{"data": b64(p), "alt": a} for p, a in zip(PICTURES, ALTS, strict=True)]


def test_the_pictures_are_uploaded_into_the_thread_with_their_alt_text(
    bot: SlackBot, slack: FakeSlack
) -> None:
    rid = bot.submit(evidence=EVIDENCE)
    ref = bot.message(rid)
    eventually(lambda: len(slack.uploaded(ref["ts"])) == 2, "the pictures in the thread")
    files = slack.uploaded(ref["ts"])
    assert [f["data"] for f in files] == PICTURES
    assert [f["alt_txt"] for f in files] == ALTS
    assert [f["name"] for f in files] == [f"{rid}-evidence-0.png", f"{rid}-evidence-1.jpg"]
    asked = slack.calls("files.getUploadURLExternal")
    assert [int(c["length"]) for c in asked] == [len(p) for p in PICTURES]
    (done,) = slack.calls("files.completeUploadExternal")
    assert (done["channel_id"], done["thread_ts"]) == (CHANNEL, ref["ts"])
    assert not slack.calls("files.upload"), "the retired method"


def test_without_files_write_the_pictures_are_dead_lettered_and_the_message_stands(
    bot: SlackBot, slack: FakeSlack
) -> None:
    slack._files().scopes.clear()  # an app installed before files:write was asked for
    slack.expect_refusals()
    rid = bot.submit(evidence=EVIDENCE)
    bot.message(rid)
    queries = bot.container.services.queries

    def row():
        return next(i for i in queries.outbox_items(limit=100) if i.kind == CHAT_EVIDENCE)

    eventually(lambda: row().state is OutboxState.DEAD, "the pictures dead-lettered")
    assert "missing_scope" in (row().last_error or "")
    assert slack.uploaded() == []
    assert len(slack.posts(CHANNEL)) == 1  # the request's own message


@pytest.mark.postgres
def test_once_across_a_lost_answer_and_two_replicas(two_replicas, slack: FakeSlack) -> None:
    """Replica a shares the files, but Slack's answer is lost (or a dies): replica b's
    redelivery finds them in the thread by name and uploads nothing again."""
    a, b, _clock = two_replicas
    rid = a.services.commands.submit(submission(evidence=EVIDENCE)).request.id
    request = a.services.queries.get(rid)
    asyncio.run(handler(a).deliver(item(a, rid, CHAT_POST), request))
    shown = item(a, rid, CHAT_EVIDENCE)
    slack.lose_response("files.completeUploadExternal")

    async def deliveries() -> None:
        with pytest.raises(Exception):  # noqa: B017 (whatever the client raises: retried)
            await handler(a).deliver(shown, request)
        await handler(b).deliver(redelivered(shown), request)
        await handler(b).deliver(redelivered(redelivered(shown)), request)

    asyncio.run(deliveries())
    [message] = slack.posts(CHANNEL)
    assert [f["data"] for f in slack.uploaded(message["ts"])] == PICTURES
    assert slack.attempts("files.completeUploadExternal") == 1  # the lost one only
    assert slack.calls("conversations.replies"), "the redelivery looked in the thread"
