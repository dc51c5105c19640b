"""A running canary in Telegram: the message shows it with Pause / Resume / Roll back /
Promote now; taps and commands are authorized and audited (bot/service/chat/rollout.py)."""

from __future__ import annotations

from bot.adapters.telegram.ids import Button
from tests.adapters.telegram.conftest import BOB, CAROL, TelegramBot

PROGRESS = {
    "phase": "dwelling",
    "step": 10,
    "steps": [10, 25, 50, 100],
    "traffic": {"iris-predictor-00002": 10, "iris-predictor-00001": 90},
}


def test_taps_and_commands_steer_a_running_canary(bot: TelegramBot) -> None:
    rid = bot.submit(requested_by="dave")
    bot.message(rid)
    bot.answer(bot.tap(BOB, Button.APPROVE, rid))
    bot.answer(bot.tap(CAROL, Button.APPROVE, rid))
    bot.wait_message(rid, lambda m: "Approved by" in m.text, "the decision")
    services = bot.container.services
    services.commands.promotion_started(rid, "run-1")
    services.rollouts.report(rid, PROGRESS)
    bot.container.kick()

    shown = bot.wait_message(rid, lambda m: "Canary" in m.text, "the canary on the message")
    assert "dwelling at 10%" in shown.text and "iris-predictor-00002 10%" in shown.text
    [row] = shown.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [b["callback_data"] for b in row] == [f"v1:p:{rid}", f"v1:b:{rid}", f"v1:n:{rid}"]

    paused = bot.answer(bot.tap(BOB, Button.PAUSE, rid))
    assert "Paused the canary" in paused["text"] and not paused.get("show_alert")
    edited = bot.wait_message(rid, lambda m: "paused by" in m.text, "the pause shown")
    [row] = edited.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert row[0]["callback_data"] == f"v1:c:{rid}"  # Resume

    again = bot.answer(bot.tap(CAROL, Button.PAUSE, rid))
    assert again["show_alert"] is True and "paused already" in again["text"]

    reply = bot.answer_to(bot.say(CAROL, f"/promote_now {rid}")).text
    assert "Promoting now the canary" in reply
    assert services.rollouts.view(rid).control == "promote_now"
    history = services.queries.history([services.queries.get(rid)])[rid]
    done = [(r.actor, r.data["action"]) for r in history if r.kind == "rollout_controlled"]
    assert done == [("bob", "pause"), ("carol", "promote_now")]
