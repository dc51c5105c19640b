"""The Bot API's rules the fake Telegram (``fake_telegram.py``) enforces, and the shapes of
what it sends: https://core.telegram.org/bots/api, with the limits from
python-telegram-bot's ``telegram.constants`` (which mirrors that page).

- text is Telegram's HTML ("Formatting options": the tags it knows, the four named
  entities and numeric ones; anything else is "can't parse entities");
- lengths are counted after entity parsing, in UTF-16 code units ("MessageEntity":
  offsets and lengths "in UTF-16 code units"), so an emoji outside the BMP counts twice;
- an error is ``{"ok": false, "error_code", "description"}`` with ``parameters``
  (``ResponseParameters``: ``retry_after``, ``migrate_to_chat_id``) where it applies.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from telegram.constants import (
    CallbackQueryLimit,
    ChatID,
    InlineKeyboardButtonLimit,
    MessageLimit,
)

from tests.adapters.telegram import fake_media
from tests.support.http_fake import Recorded

QUERY_TTL = 15.0  # seconds a callback query can be answered
MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)  # UTF-16 code units, after entity parsing
MAX_ANSWER = int(CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH)
MIN_DATA = int(InlineKeyboardButtonLimit.MIN_CALLBACK_DATA)
MAX_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # bytes
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"
# Form fields python-telegram-bot sends as JSON; the others are plain strings.
JSON_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "show_alert",
        "offset",
        "timeout",
        "limit",
        "allowed_updates",
        "drop_pending_updates",
    }
)
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
         "blockquote", "tg-spoiler", "span", "tg-emoji"}  # fmt: skip
_TAG = re.compile(r'<(/?)([a-z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>')
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class HtmlError(ValueError):
    pass


def utf16_length(text: str) -> int:
    """A text's length as the Bot API counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Telegram's HTML to its plain text; HtmlError where Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if not m:
                raise HtmlError(f"Unsupported start tag at byte offset {i}")
            closing, tag, attrs = m.group(1), m.group(2), m.group(3)
            if tag not in _TAGS:
                raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != tag:
                    raise HtmlError(f'Can\'t find end tag corresponding to start tag "{tag}"')
                stack.pop()
            else:
                if tag == "a" and 'href="' not in attrs:
                    raise HtmlError("a tag without href")
                stack.append(tag)
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise HtmlError(f"Unsupported entity at byte offset {i}")
            out.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise HtmlError(f"Unexpected > at byte offset {i}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


@dataclass(frozen=True)
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def flood(retry_after: int) -> Failure:
    return Failure(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def bad_request(what: str) -> Failure:
    return Failure(400, f"Bad Request: {what}")


def forbidden(what: str) -> Failure:
    return Failure(403, f"Forbidden: {what}")


def form(request: Recorded) -> dict[str, Any]:
    """A Bot API call's arguments, as python-telegram-bot sends them (files, when uploaded,
    under ``_files`` by field name: fake_media.py)."""
    raw: dict[str, str] = {k: v[-1] for k, v in request.query.items()}
    ctype = request.headers.get("content-type", "")
    files: dict[str, bytes] = {}
    if request.body and ctype.startswith("application/json"):
        return {**raw, **json.loads(request.body)}
    if request.body and ctype.startswith("multipart/form-data"):
        fields, files = fake_media.multipart(ctype, request.body)
        raw.update(fields)
    elif request.body:
        raw.update({k: v[-1] for k, v in parse_qs(request.body.decode()).items()})
    args: dict[str, Any] = {}
    for key, value in raw.items():
        if key in JSON_FIELDS:
            try:
                args[key] = json.loads(value)
            except ValueError:
                args[key] = value
        else:
            args[key] = value
    if files:
        args["_files"] = files
    return args


def user(user_id: int, first_name: str | None = None) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name or f"user{user_id}"}


def chat(chat_id: int | str, kind: str | None = None) -> dict[str, Any]:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"user{chat_id}"}
    return {"id": chat_id, "type": kind or "supergroup", "title": "Model approvals"}


# The senders Telegram puts in ``from`` for what no person sent (``telegram.constants.ChatID``).
ANONYMOUS_ADMIN = {"id": int(ChatID.ANONYMOUS_ADMIN), "is_bot": True,
                   "first_name": "Group", "username": "GroupAnonymousBot"}  # fmt: skip
FAKE_CHANNEL = {"id": int(ChatID.FAKE_CHANNEL), "is_bot": True,
                "first_name": "Channel", "username": "Channel_Bot"}  # fmt: skip
SERVICE_CHAT = {"id": int(ChatID.SERVICE_CHAT), "is_bot": False, "first_name": "Telegram"}
LINKED_CHANNEL = -1009876543210
