"""A divergence's alert in Telegram (docs/watch.md): posted with Deploy the champion and Move
the alias back as inline buttons whose callback data names the divergence; a tap is authorized
like a rollback and answered at once, the alert edited to show who asked, without buttons."""

from __future__ import annotations

from bot.adapters.telegram.ids import Button, callback_data
from bot.domain.names import EventKind
from tests import builders
from tests.adapters.slack.conftest import eventually
from tests.adapters.telegram.conftest import BOB, CAROL, TelegramBot
from tests.adapters.telegram.fake_telegram import Stored


def alert(bot: TelegramBot) -> Stored:
    def found() -> list[Stored]:
        with bot.telegram._lock:
            return [m for m in bot.telegram.messages.values() if "disagree" in m.text]

    eventually(found, "the alert")
    [shown] = found()
    return shown


def tap(bot: TelegramBot, user: int, button: Button, did: str) -> dict:
    shown = alert(bot)
    update = bot.telegram.tap(user, callback_data(button, did), message=shown)
    bot.deliver(update)
    return bot.answer(str(update["callback_query"]["id"]))


def test_a_tap_on_the_alert_takes_one_way_out(bot: TelegramBot) -> None:
    services = bot.container.services
    did = builders.diverge(services)
    bot.container.kick()
    shown = alert(bot)
    [row] = shown.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [b["callback_data"] for b in row] == [f"v1:d:{did}", f"v1:m:{did}"]
    assert [b["text"] for b in row] == ["🚀 Deploy the champion", "↩️ Move the alias back"]

    refused = tap(bot, BOB, Button.DEPLOY_CHAMPION, did)  # no launcher here
    assert refused["show_alert"] is True and "cannot deploy the champion" in refused["text"]

    done = tap(bot, CAROL, Button.ALIAS_BACK, did)
    assert "@champion goes back to the served version" in done["text"]
    assert not done.get("show_alert")
    eventually(lambda: "asked to move @champion back" in alert(bot).text, "the alert edited")
    assert alert(bot).reply_markup is None, "no more buttons"

    again = tap(bot, BOB, Button.ALIAS_BACK, did)
    assert again["show_alert"] is True and "carol asked already" in again["text"]
    with services.uow(readonly=True) as uow:
        asked = [r for r in uow.audit.records(None) if r.kind == EventKind.SERVING_ALIAS_BACK]
    assert [r.actor for r in asked] == ["carol"]
