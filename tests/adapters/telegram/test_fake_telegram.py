"""The fake Telegram refuses what Telegram refuses (``bot_api.py`` and ``fake_telegram.py``
cite https://core.telegram.org/bots/api for each rule), driven through python-telegram-bot's
own ``Bot``, as the bot drives it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from telegram import Bot, Update
from telegram.constants import ChatID, MessageLimit, ParseMode
from telegram.error import BadRequest, ChatMigrated, Conflict

from tests.adapters.slack.conftest import eventually
from tests.adapters.telegram.bot_api import utf16_length
from tests.adapters.telegram.fake_telegram import GROUP, TOKEN, FakeTelegram

EMOJI = "\U0001f680"  # outside the BMP: two UTF-16 code units


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeTelegram]:
    with FakeTelegram(clock=clock, poll_cap=5.0) as telegram:
        yield telegram


def run(fake: FakeTelegram, call: object) -> object:
    async def go() -> object:
        async with Bot(TOKEN, base_url=fake.api_url) as bot:
            return await call(bot)  # type: ignore[operator]

    return asyncio.run(go())


def test_length_is_counted_in_utf16_code_units_after_entity_parsing(fake: FakeTelegram) -> None:
    limit = int(MessageLimit.MAX_TEXT_LENGTH)
    fits = "<b>" + "a" * (limit - 2) + "</b>" + EMOJI  # tags do not count, the emoji twice
    assert utf16_length("a" * (limit - 2) + EMOJI) == limit
    run(fake, lambda bot: bot.send_message(GROUP, fits, parse_mode=ParseMode.HTML))
    escaped = "&lt;" * limit  # 4 characters of HTML, one of text
    run(fake, lambda bot: bot.send_message(GROUP, escaped, parse_mode=ParseMode.HTML))
    over = "a" * (limit - 1) + EMOJI  # 4096 Python characters, 4097 code units
    assert len(over) == limit
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        run(fake, lambda bot: bot.send_message(GROUP, over))


def test_html_telegram_cannot_parse_is_refused(fake: FakeTelegram) -> None:
    for bad in ("a < b", "<b>open", "<div>x</div>", "&nbsp;", "<a>no href</a>"):
        with pytest.raises(BadRequest, match=r"(?i)parse entities"):
            run(fake, lambda bot, t=bad: bot.send_message(GROUP, t, parse_mode=ParseMode.HTML))


def test_callback_data_over_64_bytes_is_refused(fake: FakeTelegram) -> None:
    keyboard = {"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]}  # 66 bytes
    response = httpx.post(
        f"{fake.api_url}{TOKEN}/sendMessage",
        json={"chat_id": GROUP, "text": "x", "reply_markup": keyboard},
    )
    assert response.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"


def test_a_callback_query_expires_after_15_seconds(fake: FakeTelegram, clock: Clock) -> None:
    late = fake.tap(1001, "v1:a:r1")["callback_query"]["id"]
    in_time = fake.tap(1001, "v1:a:r2")["callback_query"]["id"]
    run(fake, lambda bot: bot.answer_callback_query(in_time, "ok"))
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):  # answered once only
        run(fake, lambda bot: bot.answer_callback_query(in_time, "again"))
    clock.now += 15.5
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        run(fake, lambda bot: bot.answer_callback_query(late, "too late"))


def test_identical_edit_is_not_modified(fake: FakeTelegram) -> None:
    sent = run(fake, lambda bot: bot.send_message(GROUP, "hello"))
    mid = sent.message_id  # type: ignore[attr-defined]
    run(fake, lambda bot: bot.edit_message_text("hello, world", chat_id=GROUP, message_id=mid))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        run(fake, lambda bot: bot.edit_message_text("hello, world", chat_id=GROUP, message_id=mid))


def test_a_second_poller_ends_the_first_with_409(fake: FakeTelegram) -> None:
    async def two_pollers() -> list[object]:
        async with (
            Bot(TOKEN, base_url=fake.api_url) as one,
            Bot(TOKEN, base_url=fake.api_url) as two,
        ):
            first = asyncio.ensure_future(one.get_updates(timeout=3, read_timeout=10))
            polling = lambda: fake.received("getUpdates") >= 1  # noqa: E731
            await asyncio.to_thread(eventually, polling, "the first poll to wait")
            second = asyncio.ensure_future(two.get_updates(timeout=0.2, read_timeout=10))
            return list(await asyncio.gather(first, second, return_exceptions=True))

    first, second = asyncio.run(two_pollers())
    assert isinstance(first, Conflict) and "terminated by other getUpdates" in first.message
    assert second == ()


def test_senders_that_are_not_people(fake: FakeTelegram) -> None:
    async def read(update: dict[str, object]) -> Update:
        async with Bot(TOKEN, base_url=fake.api_url) as bot:
            return Update.de_json(update, bot)

    admin = asyncio.run(read(fake.anonymous("/approve r1"))).message
    assert admin is not None and admin.from_user is not None
    assert admin.from_user.id == ChatID.ANONYMOUS_ADMIN
    assert admin.sender_chat is not None and admin.sender_chat.id == GROUP
    channel = asyncio.run(read(fake.on_behalf_of_channel("hi"))).message
    assert channel is not None and channel.from_user is not None
    assert channel.from_user.id == ChatID.FAKE_CHANNEL and channel.sender_chat is not None
    forward = asyncio.run(read(fake.automatic_forward("post"))).message
    assert forward is not None and forward.from_user is not None
    assert forward.from_user.id == ChatID.SERVICE_CHAT and forward.is_automatic_forward


def test_a_migrated_group_refuses_writes_with_its_new_id(fake: FakeTelegram) -> None:
    old, new = -4001, -1004001
    sent = run(fake, lambda bot: bot.send_message(old, "before"))
    mid = sent.message_id  # type: ignore[attr-defined]
    to, came_from = fake.migrate(old, new)
    assert to["message"]["migrate_to_chat_id"] == new
    assert came_from["message"]["migrate_from_chat_id"] == old
    with pytest.raises(ChatMigrated) as raised:
        run(fake, lambda bot: bot.send_message(old, "after"))
    assert raised.value.new_chat_id == new
    [refused] = [c for c in fake.log("sendMessage") if c.status == 400]
    assert refused.description == "Bad Request: group chat was upgraded to a supergroup chat"
    with pytest.raises(ChatMigrated):
        run(fake, lambda bot: bot.edit_message_text("edited", chat_id=old, message_id=mid))
    run(fake, lambda bot: bot.edit_message_text("edited", chat_id=new, message_id=mid))
    assert fake.message(new, mid).text == "edited"
