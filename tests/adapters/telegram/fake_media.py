"""Photos for the fake Telegram Bot API (``fake_telegram.py``), as strict as Telegram:

- uploads come as ``multipart/form-data`` (python-telegram-bot sends a file that way); a
  photo is a file part, or ``attach://<name>`` naming one in ``sendMediaGroup``'s media;
- ``sendPhoto`` (core.telegram.org/bots/api#sendphoto): "The photo must be at most 10 MB in
  size. The photo's width and height must not exceed 10000 in total. Width and height ratio
  must be at most 20." It is decoded (Pillow), as Telegram does: a file that is not a whole
  picture is refused ``IMAGE_PROCESS_FAILED``;
- a caption: "0-1024 characters after entities parsing" (``MessageLimit.CAPTION_LENGTH``),
  its HTML checked as a message's;
- ``sendMediaGroup`` (#sendmediagroup): "must include 2-10 items"
  (``MediaGroupLimit``), here photos only; the answer is one message per photo, sharing a
  ``media_group_id``;
- ``reply_parameters`` name a message of the chat, unless ``allow_sending_without_reply``.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
from dataclasses import dataclass
from typing import Any

from PIL import Image
from telegram.constants import FileSizeLimit, MediaGroupLimit, MessageLimit


class MediaRefused(Exception):
    """What Telegram answers 400 ``Bad Request: <description>``."""


@dataclass
class Photo:
    chat_id: int | str
    message_id: int
    data: bytes
    caption: str  # as sent (HTML)
    reply_to: int | None
    media_group_id: str | None = None


def multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    """A ``multipart/form-data`` body's fields and files (by field name)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = payload
        else:
            fields[str(name)] = payload.decode()
    return fields, files


def check_photo(data: bytes | None) -> None:
    if not data:
        raise MediaRefused("there is no photo in the request")
    if len(data) > FileSizeLimit.PHOTOSIZE_UPLOAD:
        raise MediaRefused("PHOTO_INVALID_DIMENSIONS")  # too big
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:
        raise MediaRefused("IMAGE_PROCESS_FAILED") from None
    width, height = image.size
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise MediaRefused("PHOTO_INVALID_DIMENSIONS")


def check_caption(caption: str, parse_html: Any) -> None:
    try:
        text = parse_html(caption)
    except ValueError as exc:
        raise MediaRefused(f"can't parse entities: {exc}") from None
    if len(text) > MessageLimit.CAPTION_LENGTH:
        raise MediaRefused("message caption is too long")


def media_items(args: dict[str, Any], files: dict[str, bytes]) -> list[tuple[bytes, str]]:
    """``sendMediaGroup``'s photos and captions."""
    media = args.get("media")
    if isinstance(media, str):
        media = json.loads(media)
    if not isinstance(media, list):
        raise MediaRefused("media is not an array")
    if not MediaGroupLimit.MIN_MEDIA_LENGTH <= len(media) <= MediaGroupLimit.MAX_MEDIA_LENGTH:
        raise MediaRefused("wrong number of media items (2-10 allowed)")
    out = []
    for item in media:
        if item.get("type") != "photo":
            raise MediaRefused("only photos here")  # what the bot sends
        ref = str(item.get("media", ""))
        if not ref.startswith("attach://") or ref.removeprefix("attach://") not in files:
            raise MediaRefused("wrong file identifier/HTTP URL specified")
        out.append((files[ref.removeprefix("attach://")], str(item.get("caption") or "")))
    return out
