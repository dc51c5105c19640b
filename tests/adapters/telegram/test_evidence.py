"""The evidence pictures in Telegram: an album (sendMediaGroup; sendPhoto for one) replying
to the request's message, each captioned with its alt text, escaped; an outbox effect of its
own, once across two replicas and a crash between the submission's commit and its delivery
(README.md, "Evidence")."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.adapters.db.migrate import upgrade
from bot.domain.effects import CHAT_EVIDENCE
from bot.domain.names import OutboxState
from tests.adapters.telegram.conftest import TelegramBot, eventually, telegram_settings
from tests.adapters.telegram.fake_telegram import GROUP, FakeTelegram
from tests.builders import directory, submission
from tests.support.pictures import b64, png

PICTURES = [png(40, 20, rgb=(200, 0, 0)), png(30, 30, rgb=(0, 120, 0))]
ALTS = ["p99 <2.7 ms> & well under 100 ms.", "Accuracy 96.67% vs 96.67%."]


def evidence(count: int = 2) -> list[dict[str, Any]]:
    return [{"data": b64(p), "alt": a} for p, a in list(zip(PICTURES, ALTS, strict=True))[:count]]


def test_an_album_replies_to_the_request_message_with_escaped_captions(
    webhook_bot: TelegramBot, telegram: FakeTelegram
) -> None:
    rid = webhook_bot.submit(requested_by="dave", evidence=evidence())
    ref = webhook_bot.ref(rid)
    eventually(lambda: len(telegram.photos) == 2, "the album")
    assert telegram.calls("sendMediaGroup") and not telegram.calls("sendPhoto")
    assert [p.data for p in telegram.photos] == PICTURES
    assert {p.reply_to for p in telegram.photos} == {ref["message_id"]}
    assert len({p.media_group_id for p in telegram.photos}) == 1
    assert telegram.photos[0].caption == "p99 &lt;2.7 ms&gt; &amp; well under 100 ms."
    queries = webhook_bot.container.services.queries

    def shown() -> list[Any]:
        return [i for i in queries.outbox_items(limit=100) if i.kind == CHAT_EVIDENCE]

    eventually(lambda: shown()[0].state is OutboxState.DELIVERED, "the effect recorded")
    assert [i.attempts for i in shown()] == [1]


def test_one_picture_is_one_photo(webhook_bot: TelegramBot, telegram: FakeTelegram) -> None:
    rid = webhook_bot.submit(requested_by="dave", evidence=evidence(1))
    ref = webhook_bot.ref(rid)
    eventually(lambda: len(telegram.photos) == 1, "the photo")
    assert not telegram.calls("sendMediaGroup")
    assert telegram.photos[0].reply_to == ref["message_id"]
    assert telegram.photos[0].chat_id == GROUP


def test_a_request_without_evidence_sends_no_photo(
    webhook_bot: TelegramBot, telegram: FakeTelegram
) -> None:
    rid = webhook_bot.submit(requested_by="dave")
    webhook_bot.ref(rid)
    items = webhook_bot.container.services.queries.outbox_items(limit=100)
    assert not [i for i in items if i.kind == CHAT_EVIDENCE]
    assert telegram.photos == []


def test_once_across_a_crash_and_two_replicas(pg_url: str, telegram: FakeTelegram) -> None:
    """The submitting process dies after its commit, before delivering; two replicas then
    sweep the outbox at the same moment: one message, one album."""
    upgrade(pg_url)
    crashed = telegram_settings(pg_url, telegram).build()
    crashed.services.admin.apply(directory())
    rid = crashed.services.commands.submit(
        submission(requested_by="dave", evidence=evidence())
    ).request.id
    crashed.close()  # nothing was delivered
    assert telegram.photos == [] and not telegram.calls("sendMessage")
    a = telegram_settings(pg_url, telegram).build()
    b = telegram_settings(pg_url, telegram).build()
    try:

        async def both() -> None:
            for _ in range(3):  # a sweep, and the sweeps after it
                await asyncio.gather(a.dispatcher.deliver_due(), b.dispatcher.deliver_due())

        asyncio.run(both())
        posted = [c for c in telegram.calls("sendMessage") if "Approval needed" in c["text"]]
        assert len(posted) == 1
        assert len(telegram.calls("sendMediaGroup")) == 1
        assert len(telegram.photos) == 2
        ref = a.services.chat.ref(rid, "telegram")
        assert ref is not None and {p.reply_to for p in telegram.photos} == {ref["message_id"]}
    finally:
        a.close()
        b.close()
