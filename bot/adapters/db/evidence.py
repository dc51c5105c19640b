"""``EvidenceRepository`` over SQLAlchemy Core: a request's pictures, bytes apart from the
rest (listing them never reads the bytes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Row, bindparam, insert, select

from bot.adapters.db import tables as t
from bot.domain.evidence import EvidenceInfo, Picture

_c = t.evidence.c
_INFO = (_c.position, _c.media_type, _c.width, _c.height, _c.size, _c.sha256, _c.alt)
_OF = _c.request_id == bindparam("where_id")
LIST = select(*_INFO).where(_OF).order_by(_c.position)
GET = select(*_INFO, _c.data).where(_OF, _c.position == bindparam("where_position"))
ADD = insert(t.evidence)


def _info(row: Row[tuple]) -> EvidenceInfo:  # type: ignore[type-arg]
    return EvidenceInfo(
        row.position, row.media_type, row.width, row.height, row.size, row.sha256, row.alt
    )


class SqlEvidenceRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request_id: str, pictures: Sequence[Picture]) -> None:
        if pictures:
            rows = [
                {"request_id": request_id, "position": p.info.index, "data": p.data}
                | {k: v for k, v in p.info.to_dict().items() if k != "index"}
                for p in pictures
            ]
            self.conn.execute(ADD, rows)

    def listed(self, request_id: str) -> list[EvidenceInfo]:
        return [_info(r) for r in self.conn.execute(LIST, {"where_id": request_id})]

    def picture(self, request_id: str, index: int) -> Picture | None:
        row = self.conn.execute(GET, {"where_id": request_id, "where_position": index}).first()
        return Picture(_info(row), row.data) if row else None
