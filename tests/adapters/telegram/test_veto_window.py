"""The veto window in Telegram (README.md, "Rules"): the message says when the request
promotes, with Approve now and Reject, and shows the policy's decision when the window ends."""

from __future__ import annotations

from tests.adapters.telegram.conftest import running_bot
from tests.adapters.telegram.fake_telegram import FakeTelegram
from tests.builders import directory, policy_patch
from tests.fakes import FakeClock


def test_the_message_says_when_it_promotes_and_then_shows_the_policys_decision(
    sqlite_url: str, telegram: FakeTelegram
) -> None:
    clock = FakeClock()  # 2026-01-05 09:00 UTC
    with running_bot(sqlite_url, telegram, clock=clock) as bot:
        bot.container.services.admin.apply(
            directory(policies=policy_patch(auto_approve_after="30m"))
        )
        rid = bot.submit(requested_by="dave")
        message = bot.message(rid)
        assert "⏱️ Promotes at 2026-01-05 09:30 UTC unless rejected" in message.text
        assert "veto window of policy <code>*</code>" in message.html
        assert message.reply_markup is not None
        [row] = message.reply_markup["inline_keyboard"]
        assert [b["text"] for b in row] == ["✅ Approve now", "❌ Reject"]

        clock.advance(minutes=30)
        final = bot.wait_message(rid, lambda m: "Approved" in m.text, "the policy's decision")
        assert "system:auto" in final.text and "policy '*'" in final.text
        assert "unless rejected" not in final.text
        assert final.reply_markup is None
