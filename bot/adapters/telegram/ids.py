"""What Telegram sends back to us, and the keys of what we remember: versioned and opaque.

A button's ``callback_data`` lives as long as its message: it names an action and a
request, never state (``v1:a:<request id>``), so it stays valid whatever happens to the
request; when its shape changes, add ``v2`` and keep answering ``v1``. Telegram allows
1–64 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CALLBACK_LIMIT = 64  # bytes
VERSION = "v1"


class Button(StrEnum):
    APPROVE = "a"
    REJECT = "r"
    # a running canary (bot/service/chat/rollout.py)
    PAUSE = "p"
    RESUME = "c"
    ROLLBACK = "b"
    PROMOTE_NOW = "n"
    # a divergence's alert (bot/service/chat/alerts.py); the id is the divergence's
    DEPLOY_CHAMPION = "d"
    ALIAS_BACK = "m"


WATCH_BUTTONS = frozenset({Button.DEPLOY_CHAMPION, Button.ALIAS_BACK})


@dataclass(frozen=True, slots=True)
class Tap:
    button: Button
    request_id: str


def callback_data(button: Button, request_id: str) -> str:
    data = f"{VERSION}:{button.value}:{request_id}"
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback_data over {CALLBACK_LIMIT} bytes for request {request_id!r}")
    return data


def parse_callback(data: str | None) -> Tap | None:
    """The tap a button's data names; None for data this version does not know."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != VERSION or not parts[2]:
        return None
    try:
        return Tap(Button(parts[1]), parts[2])
    except ValueError:
        return None


# -- what the channel keeps in the database (``ChatMessages.telegram_state``) ---------

OFFSET_KEY = "updates_offset"  # polling: the next update_id to ask getUpdates for


def moved_key(chat_id: int | str) -> str:
    """A group that became a supergroup: its new id."""
    return f"moved:{chat_id}"


def prompt_key(chat_id: int, message_id: int) -> str:
    """The reject prompt (a ForceReply message) waiting for its reply."""
    return f"prompt:{chat_id}:{message_id}"
