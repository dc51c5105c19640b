"""The toy's platform: messages kept in memory, by id."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from bot.domain.evidence import Picture
from bot.ports.chat import Ref, Updated

SENT: dict[str, list[dict[str, Any]]] = {}  # message id -> what it showed, oldest first
REPLIES: list[dict[str, Any]] = []
_ids = itertools.count(1)


class ToyTransport:
    async def post(self, rendered: dict[str, Any], *, request_id: str) -> Ref:
        message_id = f"m{next(_ids)}"
        SENT[message_id] = [rendered]
        return {"id": message_id}

    async def update(self, ref: Ref, rendered: dict[str, Any]) -> Updated:
        shown = SENT[ref["id"]]
        if shown[-1] == rendered:
            return Updated.UNCHANGED
        shown.append(rendered)
        return Updated.UPDATED

    async def reply(
        self, ref: Ref | None, rendered: dict[str, Any], *, key: str, look_first: bool, loud: bool
    ) -> bool:
        REPLIES.append({"to": ref, "key": key, **rendered})
        return True

    async def find_post(self, request_id: str) -> Ref | None:
        return None

    async def pictures(
        self, ref: Ref, pictures: Sequence[Picture], *, request_id: str, look_first: bool
    ) -> int:
        REPLIES.append({"to": ref, "pictures": [p.info.sha256 for p in pictures]})
        return len(pictures)
