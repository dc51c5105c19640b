"""Slack's file upload flow for the fake Web API (``fake_slack.py``), as strict as Slack
(docs.slack.dev/reference/methods/files.getUploadURLExternal and
files.completeUploadExternal; ``files.upload`` is retired and answers
``method_deprecated`` here):

1. ``files.getUploadURLExternal``: ``filename`` and ``length`` (bytes) are required; a
   ``length`` of 0 is ``missing_argument``; ``alt_txt`` longer than 1000 characters is
   ``alt_txt_too_large``; without the ``files:write`` scope, ``missing_scope``. Answers an
   ``upload_url`` (on this fake) and a ``file_id``;
2. the bytes are POSTed to the upload URL (raw, as slack_sdk sends them): HTTP 200
   ``OK - <length>``; an unknown URL is 404;
3. ``files.completeUploadExternal``: ``files`` (a JSON array of ``{id, title}``) naming
   uploaded files; a file whose bytes never came, or not ``length`` of them, or completed
   already, is ``invalid_arguments`` (Slack processes only what it received); ``thread_ts``
   must be a top-level message of ``channel_id`` (a reply's ts is refused: "Never use a
   reply's ts value; use its parent instead"). The files appear as one message in the
   thread, which ``conversations.replies`` shows (``files``: id, name, title, alt_txt, size).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

ALT_TXT_MAX = 1000
SCOPE = "files:write"


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None
    completed: bool = False

    def shown(self, title: str | None) -> dict[str, Any]:
        return {
            "id": self.file_id,
            "name": self.filename,
            "title": title or self.filename,
            "alt_txt": self.alt_txt,
            "size": len(self.data or b""),
            "mimetype": "image/png" if self.filename.endswith(".png") else "image/jpeg",
        }


class Files:
    """The uploads one fake Slack has seen; ``FakeSlack`` calls these under its lock."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.scopes = {SCOPE}
        self.uploads: dict[str, Upload] = {}
        self._ids = itertools.count(1)

    def get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if SCOPE not in self.scopes:
            return {"ok": False, "error": "missing_scope", "needed": SCOPE}
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not filename or length <= 0:
            return {"ok": False, "error": "missing_argument"}
        alt = args.get("alt_txt")
        if alt is not None and len(str(alt)) > ALT_TXT_MAX:
            return {"ok": False, "error": "alt_txt_too_large"}
        file_id = f"F0FAKE{next(self._ids):04d}"
        self.uploads[file_id] = Upload(file_id, filename, length, alt)
        return {
            "ok": True,
            "upload_url": f"{self.base_url}/upload/v1/{file_id}",
            "file_id": file_id,
        }

    def receive(self, file_id: str, body: bytes) -> tuple[int, str]:
        upload = self.uploads.get(file_id)
        if upload is None or upload.completed:
            return 404, "Not Found"
        upload.data = body
        return 200, f"OK - {len(body)}"

    def complete(
        self, args: dict[str, Any], top_level: set[tuple[str, str]]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Slack's answer, and the thread message to keep (None when refused)."""
        try:
            wanted = json.loads(args.get("files") or "[]")
        except json.JSONDecodeError:
            return {"ok": False, "error": "invalid_arguments"}, None
        if not isinstance(wanted, list) or not wanted:
            return {"ok": False, "error": "invalid_arguments"}, None
        found = [self.uploads.get(str(f.get("id"))) for f in wanted]
        if any(u is None or u.completed or len(u.data or b"") != u.length for u in found):
            return {"ok": False, "error": "invalid_arguments"}, None
        channel, thread = args.get("channel_id"), args.get("thread_ts")
        if thread is not None and (channel, thread) not in top_level:
            return {"ok": False, "error": "invalid_arguments"}, None
        shown = []
        for upload, f in zip(found, wanted, strict=True):
            assert upload is not None
            upload.completed = True
            shown.append(upload.shown(f.get("title")))
        message = {
            "type": "message",
            "channel": channel,
            "thread_ts": thread,
            "text": args.get("initial_comment") or "",
            "files": shown,
            "bot_id": "B0BOT001",
        }
        return {"ok": True, "files": shown}, message
