"""A fake Telegram Bot API on 127.0.0.1: records calls, keeps messages, enforces the rules.

    with FakeTelegram(group_limit=(20, 2.0)) as telegram:
        settings = Settings(telegram_api_url=telegram.api_url, ...)
        telegram.calls("sendMessage")       # the arguments of each accepted call, in order
        telegram.push(telegram.tap(...))    # an update for getUpdates

It answers what python-telegram-bot sends (``/bot<token>/<method>``, form-encoded, JSON
values) the way Telegram does:

The rules are Telegram's, as https://core.telegram.org/bots/api documents them, and the
limits come from python-telegram-bot's ``telegram.constants`` (which mirrors that page):

- ``sendMessage`` / ``editMessageText`` check Telegram's HTML (tags, entities)
  ("Formatting options"), the text's length *after entity parsing*, counted in UTF-16 code
  units as the Bot API counts every length and offset ("MessageEntity": "offset in UTF-16
  code units"), against ``MessageLimit.MAX_TEXT_LENGTH`` (4096) — an emoji outside the BMP
  counts twice — and every button's ``callback_data`` (1–64 bytes,
  ``InlineKeyboardButtonLimit``; else ``BUTTON_DATA_INVALID``); an edit to exactly what
  the message shows is answered 400 "message is not modified", an edit of an unknown
  message "message to edit not found";
- flood control (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
  past ``group_limit`` writes per group chat in a sliding window, or ``bot_limit`` for the
  bot, a write is answered 429 with ``retry_after``; a write to a chat before its
  ``retry_after`` ran out is answered 429 again and recorded in ``violations``;
- ``sendPhoto`` / ``sendMediaGroup`` take photos as Telegram does (``fake_media.py``: size,
  dimensions, the picture decoded, captions, 2–10 items an album), replying to a message
  of the chat; they are kept in ``photos``;
- ``answerCallbackQuery`` answers a query the fake handed out, once, and only within
  ``QUERY_TTL`` (15 s) of the tap: later it is "query is too old and response timeout
  expired or query ID is invalid" (the clients stop waiting; ``answerCallbackQuery``:
  "the answer will be displayed to the user as a notification at the top of the chat
  screen or as an alert"); its ``text`` is at most 200 characters
  (``CallbackQueryLimit``);
- ``getUpdates`` long-polls the pushed updates from ``offset`` on, and forgets the ones
  below it (as Telegram does once an offset confirms them); 409 while a webhook is set,
  and a second ``getUpdates`` while one waits ends the waiting one with 409 "Conflict:
  terminated by other getUpdates request; make sure that only one bot instance is
  running" (two pollers of one bot take turns at 409, as two replicas do);
- updates from senders that are not people: an anonymous group admin
  (``from`` = ``ChatID.ANONYMOUS_ADMIN``, 1087968824, "GroupAnonymousBot", with
  ``sender_chat`` = the group), a message sent on behalf of a channel
  (``ChatID.FAKE_CHANNEL``, 136817688, with ``sender_chat`` = the channel) and a channel
  post forwarded to its discussion group (``ChatID.SERVICE_CHAT``, 777000,
  ``is_automatic_forward``) ("Message": ``from`` "for backward compatibility, ... contains
  a fake sender user in non-channel chats");
- a group upgraded to a supergroup (``migrate``): the old group gets the service message
  ``migrate_to_chat_id`` and the new one ``migrate_from_chat_id``; every later write to the
  old id is answered 400 "Bad Request: group chat was upgraded to a supergroup chat" with
  ``parameters.migrate_to_chat_id`` ("ResponseParameters"), which python-telegram-bot
  raises as ``ChatMigrated``. The messages move with it, under their ids (assumed: the
  Bot API does not document what becomes of the old group's message ids).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from tests.adapters.telegram import fake_media
from tests.adapters.telegram.bot_api import (
    ANONYMOUS_ADMIN,
    CONFLICT,
    FAKE_CHANNEL,
    LINKED_CHANNEL,
    MAX_ANSWER,
    MAX_DATA,
    MAX_TEXT,
    MIN_DATA,
    QUERY_TTL,
    SERVICE_CHAT,
    UPGRADED,
    Failure,
    HtmlError,
    bad_request,
    chat,
    flood,
    form,
    parse_html,
    user,
    utf16_length,
)
from tests.support.http_fake import FakeHttpServer, Recorded

BOT_ID = 7000000001
BOT_USERNAME = "approval_test_bot"
TOKEN = f"{BOT_ID}:AAE-fake-token-for-tests-0123456789"
GROUP = -1001234567890
WRITES = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendMediaGroup"}
)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int
    at: float  # time.monotonic() when answered
    description: str = ""


@dataclass
class Stored:
    chat_id: int | str
    message_id: int
    html: str
    text: str
    reply_markup: dict[str, Any] | None
    date: int
    reply_to: int | None = None
    edits: int = 0


@dataclass
class _Flood:
    limit: int
    window: float
    sent: deque[float] = field(default_factory=deque)

    def retry_after(self, now: float) -> int | None:
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            return None
        return max(1, math.ceil(self.sent[0] + self.window - now))


BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Approval bot",
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


class FakeTelegram:
    def __init__(
        self,
        *,
        group_limit: tuple[int, float] = (20, 60.0),
        bot_limit: tuple[int, float] = (30, 1.0),
        poll_cap: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = FakeHttpServer()
        self.http.route("POST", r"/bot(?P<token>[^/]+)/(?P<method>\w+)", self._api)
        self.http.route("GET", r"/bot(?P<token>[^/]+)/(?P<method>\w+)", self._api)
        self.group_limit = group_limit
        self.poll_cap = poll_cap  # the longest a getUpdates waits here, whatever it asks
        self.webhook: dict[str, Any] | None = None
        self.messages: dict[tuple[int | str, int], Stored] = {}
        self.photos: list[fake_media.Photo] = []  # sendPhoto and sendMediaGroup, in order
        self.violations: list[str] = []
        self.unknown_chats: set[int | str] = set()
        self.migrated: dict[int | str, int] = {}  # an upgraded group's old id -> new id
        self.channels: set[int | str] = set()  # chats that are channels, not groups
        self.clock = clock  # when a callback query was asked (QUERY_TTL)
        self._polls = 0  # getUpdates calls seen: a newer one ends the waiting one
        self._bot_flood = _Flood(*bot_limit)
        self._floods: dict[int | str, _Flood] = {}
        self._penalties: dict[int | str, float] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._lock = threading.Condition()
        self._log: list[Call] = []
        self._message_ids = itertools.count(100)
        self._update_ids = itertools.count(5000)
        self._query_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self._queries: dict[str, bool] = {}  # id -> answered
        self._asked: dict[str, float] = {}  # id -> when the tap happened (``clock``)

    # -- setup ----------------------------------------------------------------------

    def __enter__(self) -> FakeTelegram:
        self.http.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._updates.clear()
            self._lock.notify_all()
        self.http.__exit__(exc_type, exc, tb)

    @property
    def api_url(self) -> str:
        return f"{self.http.url}/bot"

    def fail(self, method: str, *failures: Failure) -> None:
        """Answer the next calls of ``method`` with these failures, in order."""
        with self._lock:
            self._failures.setdefault(method, []).extend(failures)

    # -- what was received --------------------------------------------------------------

    def log(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._log if method is None or c.method == method]

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The arguments of each call of ``method`` that was answered ok, in order."""
        return [c.args for c in self.log(method) if c.status == 200]

    def attempts(self, method: str) -> int:
        """Calls of ``method`` answered so far, failures included."""
        return len(self.log(method))

    def received(self, method: str) -> int:
        """Calls of ``method`` received so far (a long poll counts while it waits)."""
        return sum(1 for r in self.http.requests if r.path.endswith(f"/{method}"))

    def flood_errors(self) -> list[Call]:
        return [c for c in self.log() if c.status == 429]

    def message(self, chat_id: int | str, message_id: int) -> Stored:
        with self._lock:
            return self.messages[(chat_id, message_id)]

    def answers(self, query_id: str) -> list[dict[str, Any]]:
        return [a for a in self.calls("answerCallbackQuery") if a["callback_query_id"] == query_id]

    # -- updates ------------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates."""
        with self._lock:
            self._updates.append(update)
            self._lock.notify_all()
        return update

    def pending_updates(self) -> list[int]:
        with self._lock:
            return [u["update_id"] for u in self._updates]

    def _update(self, **body: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **body}

    def tap(
        self, user_id: int, data: str, *, message: Stored | None = None, first_name: str = ""
    ) -> dict[str, Any]:
        """An update: ``user_id`` tapped the button with ``data`` (on ``message``)."""
        return self._tap(user(user_id, first_name), data, message)

    def _tap(self, sender: dict[str, Any], data: str, message: Stored | None) -> dict[str, Any]:
        query_id = f"q{next(self._query_ids)}"
        with self._lock:
            self._queries[query_id] = False
            self._asked[query_id] = self.clock()
        query: dict[str, Any] = {
            "id": query_id,
            "from": sender,
            "chat_instance": "-42",
            "data": data,
        }
        if message is not None:
            query["message"] = self._message_json(message)
        return self._update(callback_query=query)

    def text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | str = GROUP,
        reply_to: Stored | None = None,
        first_name: str = "",
    ) -> dict[str, Any]:
        """An update: ``user_id`` wrote ``text`` in ``chat_id`` (a command when it starts
        with /), maybe as a reply to one of the bot's messages."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat(chat_id),
            "from": user(user_id, first_name),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if reply_to is not None:
            message["reply_to_message"] = self._message_json(reply_to)
        return self._update(message=message)

    def anonymous(
        self, text: str, *, chat_id: int | str = GROUP, reply_to: Stored | None = None
    ) -> dict[str, Any]:
        """An update: an anonymous admin of ``chat_id`` wrote ``text`` (from
        GroupAnonymousBot, ``sender_chat`` the group itself: every anonymous admin alike)."""
        update = self.text(ANONYMOUS_ADMIN["id"], text, chat_id=chat_id, reply_to=reply_to)
        update["message"]["from"] = ANONYMOUS_ADMIN
        update["message"]["sender_chat"] = chat(chat_id)
        update["message"]["author_signature"] = "An admin"
        return update

    def on_behalf_of_channel(
        self, text: str, *, chat_id: int | str = GROUP, reply_to: Stored | None = None
    ) -> dict[str, Any]:
        """An update: someone wrote ``text`` in ``chat_id`` as a channel (Channel_Bot)."""
        update = self.text(FAKE_CHANNEL["id"], text, chat_id=chat_id, reply_to=reply_to)
        update["message"]["from"] = FAKE_CHANNEL
        update["message"]["sender_chat"] = chat(LINKED_CHANNEL, "channel")
        return update

    def automatic_forward(self, text: str, *, chat_id: int | str = GROUP) -> dict[str, Any]:
        """An update: the linked channel's post, forwarded to its discussion group by
        Telegram (777000)."""
        update = self.text(SERVICE_CHAT["id"], text, chat_id=chat_id)
        update["message"]["from"] = SERVICE_CHAT
        update["message"]["sender_chat"] = chat(LINKED_CHANNEL, "channel")
        update["message"]["is_automatic_forward"] = True
        return update

    def tap_as(self, sender: dict[str, Any], data: str, message: Stored) -> dict[str, Any]:
        """An update: a tap whose ``from`` is one of the senders above."""
        return self._tap(sender, data, message)

    def migrate(self, old: int | str, new: int) -> list[dict[str, Any]]:
        """Upgrade group ``old`` to supergroup ``new``: the two service messages (queue
        them with ``push`` or post them); writes to ``old`` fail with ChatMigrated from now."""
        with self._lock:
            self.migrated[old] = new
            for (chat_id, message_id), stored in list(self.messages.items()):
                if chat_id == old:
                    stored.chat_id = new
                    self.messages[(new, message_id)] = self.messages.pop((chat_id, message_id))
        now = int(time.time())
        base = {"date": now, "from": SERVICE_CHAT}
        return [
            self._update(message={**base, "message_id": next(self._message_ids),
                                  "chat": chat(old, "group"), "migrate_to_chat_id": new}),
            self._update(message={**base, "message_id": next(self._message_ids),
                                  "chat": chat(new), "migrate_from_chat_id": old}),
        ]  # fmt: skip

    def _message_json(self, m: Stored) -> dict[str, Any]:
        out: dict[str, Any] = {
            "message_id": m.message_id,
            "date": m.date,
            "chat": chat(m.chat_id, "channel" if m.chat_id in self.channels else None),
            "from": BOT_USER,
            "text": m.text,
        }
        if m.reply_markup:
            out["reply_markup"] = m.reply_markup
        return out

    # -- the API ------------------------------------------------------------------------

    def _api(self, request: Recorded, token: str, method: str) -> tuple[int, Any]:
        args = form(request)
        if token != TOKEN:
            status, body = 401, Failure(401, "Unauthorized").body()
        elif method == "getUpdates":
            status, body = self._get_updates(args)
        else:
            with self._lock:
                status, body = self._answer(method, args)
        with self._lock:
            self._log.append(
                Call(method, args, status, time.monotonic(), str(body.get("description", "")))
            )
        return status, body

    def _answer(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        queue = self._failures.get(method)
        if queue:
            failure = queue.pop(0)
            if failure.status == 429 and "chat_id" in args:
                self._penalize(args["chat_id"], failure.parameters or {}, time.monotonic())
            return failure.status, failure.body()
        if "chat_id" in args and args["chat_id"] in self.migrated:
            new = self.migrated[args["chat_id"]]
            return 400, Failure(400, UPGRADED, {"migrate_to_chat_id": new}).body()
        if method in WRITES:
            problem = self._flood(args.get("chat_id"))
            if problem is not None:
                return problem.status, problem.body()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, Failure(404, "Not Found: method not found").body()
        try:
            result = handler(args)
        except _Refused as refused:
            return refused.failure.status, refused.failure.body()
        return 200, {"ok": True, "result": result}

    def _penalize(self, chat_id: Any, parameters: dict[str, Any], now: float) -> None:
        self._penalties[chat_id] = now + float(parameters.get("retry_after", 0))

    def _flood(self, chat_id: Any) -> Failure | None:
        now = time.monotonic()
        until = self._penalties.get(chat_id)
        if until is not None and now < until:
            self.violations.append(
                f"write to {chat_id} {until - now:.2f}s before its retry_after ran out"
            )
            return flood(max(1, math.ceil(until - now)))
        wait = self._bot_flood.retry_after(now)
        is_group = not (isinstance(chat_id, int) and chat_id > 0)
        if wait is None and is_group:
            per_chat = self._floods.setdefault(chat_id, _Flood(*self.group_limit))
            wait = per_chat.retry_after(now)
        if wait is not None:
            self._penalties[chat_id] = now + wait
            return flood(wait)
        self._bot_flood.sent.append(now)
        if is_group:
            self._floods.setdefault(chat_id, _Flood(*self.group_limit)).sent.append(now)
        return None

    # -- methods (called with the lock held) ----------------------------------------

    def _m_getMe(self, args: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _m_setWebhook(self, args: dict[str, Any]) -> bool:
        self.webhook = args
        return True

    def _m_deleteWebhook(self, args: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _checked(self, args: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        raw = str(args.get("text") or "")
        if not raw.strip():
            raise _Refused(bad_request("message text is empty"))
        if args.get("parse_mode") == "HTML":
            try:
                text = parse_html(raw)
            except HtmlError as exc:
                raise _Refused(bad_request(f"can't parse entities: {exc}")) from None
        else:
            text = raw
        if utf16_length(text) > MAX_TEXT:
            raise _Refused(bad_request("message is too long"))
        markup = args.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard") or []:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not MIN_DATA <= len(str(data).encode()) <= MAX_DATA:
                    raise _Refused(bad_request("BUTTON_DATA_INVALID"))
        if markup is not None and "inline_keyboard" not in markup:
            markup = None  # ForceReply and the like are not kept on the message
        return raw, text, markup

    def _m_sendMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        chat_id = args["chat_id"]
        if chat_id in self.unknown_chats:
            raise _Refused(bad_request("chat not found"))
        raw, text, markup = self._checked(args)
        reply = (args.get("reply_parameters") or {}).get("message_id")
        stored = Stored(
            chat_id, next(self._message_ids), raw, text, markup, int(time.time()), reply
        )
        self.messages[(chat_id, stored.message_id)] = stored
        return self._message_json(stored)

    def _replied_to(self, args: dict[str, Any]) -> int | None:
        chat_id = args["chat_id"]
        if chat_id in self.unknown_chats:
            raise _Refused(bad_request("chat not found"))
        reply = args.get("reply_parameters") or {}
        to = reply.get("message_id")
        if to is not None and (chat_id, int(to)) not in self.messages:
            if not reply.get("allow_sending_without_reply"):
                raise _Refused(bad_request("message to be replied not found"))
            return None
        return to

    def _photo(self, args: dict[str, Any], data: bytes, caption: str, group: str | None) -> dict:
        try:
            fake_media.check_photo(data)
            fake_media.check_caption(caption, parse_html)
        except fake_media.MediaRefused as exc:
            raise _Refused(bad_request(str(exc))) from None
        photo = fake_media.Photo(
            args["chat_id"], next(self._message_ids), data, caption, self._replied_to(args), group
        )
        out = {
            "message_id": photo.message_id,
            "date": int(time.time()),
            "chat": chat(photo.chat_id),
            "from": BOT_USER,
            "photo": [{"file_id": f"photo{photo.message_id}", "file_unique_id": "u",
                       "width": 1, "height": 1}],
            **({"caption": caption} if caption else {}),
            **({"media_group_id": group} if group else {}),
        }  # fmt: skip
        return out, photo

    def _m_sendPhoto(self, args: dict[str, Any]) -> dict[str, Any]:
        self._replied_to(args)
        data = (args.get("_files") or {}).get("photo")
        out, photo = self._photo(args, data or b"", str(args.get("caption") or ""), None)
        self.photos.append(photo)
        return out

    def _m_sendMediaGroup(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        self._replied_to(args)
        try:
            items = fake_media.media_items(args, args.get("_files") or {})
        except fake_media.MediaRefused as exc:
            raise _Refused(bad_request(str(exc))) from None
        group = f"album{next(self._message_ids)}"
        sent = [self._photo(args, data, caption, group) for data, caption in items]
        self.photos += [photo for _out, photo in sent]  # all or nothing, as an album
        return [out for out, _photo in sent]

    def _m_editMessageText(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (args["chat_id"], int(args["message_id"]))
        raw, text, markup = self._checked(args)
        stored = self.messages.get(key)
        if stored is None:
            raise _Refused(bad_request("message to edit not found"))
        if stored.html == raw and stored.reply_markup == markup:
            raise _Refused(
                bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            )
        stored.html, stored.text, stored.reply_markup = raw, text, markup
        stored.edits += 1
        return self._message_json(stored)

    def _m_answerCallbackQuery(self, args: dict[str, Any]) -> bool:
        query_id = str(args.get("callback_query_id"))
        too_old = self.clock() - self._asked.get(query_id, -math.inf) > QUERY_TTL
        if self._queries.get(query_id) is not False or too_old:
            raise _Refused(
                bad_request("query is too old and response timeout expired or query ID is invalid")
            )
        if utf16_length(str(args.get("text") or "")) > MAX_ANSWER:
            raise _Refused(bad_request("MESSAGE_TOO_LONG"))
        self._queries[query_id] = True
        return True

    def _get_updates(self, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = int(args.get("offset") or 0)
        deadline = time.monotonic() + min(float(args.get("timeout") or 0), self.poll_cap)
        with self._lock:
            if self.webhook is not None:
                return 409, Failure(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                ).body()
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._polls += 1
            mine = self._polls
            self._lock.notify_all()  # a poll waiting now is ended by this one
            while not self._updates and time.monotonic() < deadline and self._polls == mine:
                self._lock.wait(timeout=max(deadline - time.monotonic(), 0.0))
            if self._polls != mine:
                return 409, Failure(409, CONFLICT).body()
            return 200, {"ok": True, "result": list(self._updates)}


class _Refused(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.description)
        self.failure = failure
