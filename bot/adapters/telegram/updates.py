"""What a webhook POST carrying the right secret may still get wrong: no JSON, JSON nested
past the parser's depth, not an update, an update missing what every update of its kind
has (a callback query without ``from``). Each is answered 200 (Telegram would only send it
again) and logged as one warning line, never a traceback.

And an update Telegram sends again (it redelivers when our answer was slow) is processed
once: its ``update_id`` is noted in the channel's state before it is processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from typing import Any

from telegram import Bot, Update

from bot.service.chat.state import ChannelState

log = logging.getLogger("bot.telegram")
REMEMBERED = 10_000  # update ids this process remembers
DB_WAIT = 0.5  # seconds the database may take to say whether another replica had it


class Malformed(ValueError):
    """Why a body is not an update we can process (one line)."""


def parse_body(body: bytes) -> dict[str, Any]:
    """The update's JSON object, or ``Malformed``."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise Malformed("the body is JSON nested too deep") from None
    except ValueError:
        raise Malformed("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise Malformed("not a Telegram update (no update_id)")
    return data


def read_update(data: dict[str, Any], bot: Bot) -> Update:
    """The update, checked for what its handlers rely on; or ``Malformed``."""
    try:
        update = Update.de_json(data, bot)
    except RecursionError:
        raise Malformed("an update nested too deep") from None
    except Exception as exc:  # PTB's own checks: a wrong type somewhere in it
        raise Malformed(f"not a Telegram update ({type(exc).__name__})") from None
    query = update.callback_query
    if query is not None and (query.from_user is None or not query.id):
        raise Malformed("a callback query without from or id")
    message = update.message
    if message is not None and (message.chat is None or not message.message_id):
        raise Malformed("a message without chat or message_id")
    return update


class Seen:
    """The updates this channel processed: this process's recent ones in memory, every
    replica's in the database (``ChannelState.first_seen``). A database slower than
    ``DB_WAIT`` (SQLite's writer lock held) does not hold the update back: the note is
    written when it can be, and only this process's memory decides meanwhile."""

    def __init__(self, state: ChannelState) -> None:
        self.state = state
        self.recent: OrderedDict[str, None] = OrderedDict()

    async def first(self, update: str) -> bool:
        if update in self.recent:
            return False
        self.recent[update] = None
        while len(self.recent) > REMEMBERED:
            self.recent.popitem(last=False)
        noting = asyncio.ensure_future(asyncio.to_thread(self.state.first_seen, update))
        done, _ = await asyncio.wait({noting}, timeout=DB_WAIT)
        if not done:
            noting.add_done_callback(_quietly)
            return True
        try:
            return bool(noting.result())
        except Exception as exc:  # the database is away: this process's memory decides
            log.warning("Telegram update %s: not noted as processed (%s)", update, exc)
            return True

    async def forget(self, update: str) -> None:
        self.recent.pop(update, None)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.state.unsee, update)


def _quietly(task: asyncio.Future[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("Telegram update not noted as processed: %s", task.exception())
