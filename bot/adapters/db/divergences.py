"""``DivergenceRepository`` over SQLAlchemy Core: what the serving watch saw differ."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, update

from bot.adapters.db import tables as t
from bot.adapters.db.engine import insert_ignoring_duplicates
from bot.domain.divergence import Divergence
from bot.ports.store import Tracker

_c = t.divergences.c
COLUMNS = (
    "id",
    "model",
    "open_model",
    "service",
    "served_uri",
    "served_version",
    "champion_version",
    "champion_uri",
    "detail",
    "detected_at",
    "resolved_at",
    "resolution",
    "refs",
)
OPEN_FOR = select(t.divergences).where(_c.open_model == bindparam("model"))
GET = select(t.divergences).where(_c.id == bindparam("where_id"))
GET_LOCKED = GET.with_for_update()  # PostgreSQL; SQLite serialises writers on its own
# One open divergence per model: a second replica's insert is skipped (open_model is unique).
ADD = insert_ignoring_duplicates(t.divergences, COLUMNS, returning=("id",))
SAVE = update(t.divergences).where(_c.id == bindparam("where_id"))
OPEN_ALL = select(t.divergences).where(_c.open_model.is_not(None)).order_by(_c.detected_at)
STATES = select(_c.model, func.count(_c.open_model)).group_by(_c.model)


def _divergence(row: Row[Any]) -> Divergence:
    return Divergence(
        id=row.id,
        model=row.model,
        service=row.service,
        served_uri=row.served_uri,
        served_version=row.served_version,
        champion_version=row.champion_version,
        champion_uri=row.champion_uri,
        detail=dict(row.detail or {}),
        detected_at=row.detected_at,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        refs=dict(row.refs or {}),
    )


class SqlDivergenceRepository:
    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen
        self._locking = conn.dialect.name == "postgresql"

    def _tracked(self, row: Row[Any] | None) -> Divergence | None:
        if row is None:
            return None
        found = _divergence(row)
        self.seen.track(found)
        return found

    def open_for(self, model: str) -> Divergence | None:
        return self._tracked(self.conn.execute(OPEN_FOR, {"model": model}).first())

    def get(self, divergence_id: str, *, for_update: bool = False) -> Divergence | None:
        q = GET_LOCKED if for_update and self._locking else GET
        return self._tracked(self.conn.execute(q, {"where_id": divergence_id}).first())

    def add(self, divergence: Divergence) -> bool:
        row = {name: getattr(divergence, name, None) for name in COLUMNS}
        row["open_model"] = divergence.model if divergence.is_open else None
        if self.conn.execute(ADD, row).first() is None:
            self.seen.forget(divergence)
            return False
        self.seen.track(divergence)
        return True

    def save(self, divergence: Divergence) -> None:
        self.conn.execute(
            SAVE,
            {
                "where_id": divergence.id,
                "open_model": divergence.model if divergence.is_open else None,
                "resolved_at": divergence.resolved_at,
                "resolution": divergence.resolution,
                "refs": divergence.refs,
                "detail": divergence.detail,
            },
        )
        self.seen.track(divergence)

    def open_all(self) -> list[Divergence]:
        return [_divergence(row) for row in self.conn.execute(OPEN_ALL)]

    def states(self) -> dict[str, bool]:
        return {row[0]: bool(row[1]) for row in self.conn.execute(STATES)}
