"""``ChatMessageRepository`` over SQLAlchemy Core: where each channel shows a request, and
the claim a deliverer holds while it posts the message (one message per request/channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.adapters.db import tables as t
from bot.ports.store import ChatClaim

_c = t.chat_messages.c
POSTING, POSTED = "posting", "posted"

# Prebuilt (see ``bot/adapters/db/engine.py``).
# Parameters: ``where_request`` and ``where_channel`` (``_here``), ``where_token`` for a claim.
_HERE = (_c.request_id == bindparam("where_request")) & (_c.channel == bindparam("where_channel"))
REF = select(_c.ref).where(_HERE, _c.state == POSTED)
ROW = select(_c.state, _c.ref, _c.claim_token, _c.lease_until).where(_HERE)
ROW_LOCKED = ROW.with_for_update()
INSERT = insert(t.chat_messages)
UPDATE = update(t.chat_messages).where(_HERE)  # the new values as parameters
UPDATE_CLAIMED = UPDATE.where(_c.state == POSTING, _c.claim_token == bindparam("where_token"))
OF_CHANNEL = select(_c.id, _c.ref).where(
    _c.channel == bindparam("where_channel"), _c.state == POSTED
)
MOVE = update(t.chat_messages).where(_c.id == bindparam("where_id"))
SHOWN = select(_c.shown).where(_HERE, _c.state == POSTED)
SHOWN_LOCKED = SHOWN.with_for_update()
FORGET_SHOWN = update(t.chat_messages).where(_HERE, _c.shown.is_not(None))
MARK_SHOWN = update(t.chat_messages).where(_HERE, _c.state == POSTED, _c.shown.is_(None))
RELEASE = delete(t.chat_messages).where(
    _HERE, _c.state == POSTING, _c.claim_token == bindparam("where_token")
)


def _here(request_id: str, channel: str, **more: Any) -> dict[str, Any]:
    return {"where_request": request_id, "where_channel": channel, **more}


class SqlChatMessageRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._locking = conn.dialect.name == "postgresql"

    def get(self, request_id: str, channel: str) -> dict[str, Any] | None:
        row = self.conn.execute(REF, _here(request_id, channel)).first()
        return dict(row.ref) if row else None

    def _row(self, request_id: str, channel: str) -> Any:
        q = ROW_LOCKED if self._locking else ROW
        return self.conn.execute(q, _here(request_id, channel)).first()

    def claim(
        self, request_id: str, channel: str, *, token: str, now: datetime, lease_until: datetime
    ) -> ChatClaim:
        row = self._row(request_id, channel)
        if row is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        INSERT,
                        {
                            "request_id": request_id,
                            "channel": channel,
                            "ref": {},
                            "updated_at": now,
                            "state": POSTING,
                            "claim_token": token,
                            "lease_until": lease_until,
                        },
                    )
                return ChatClaim(token=token)
            except IntegrityError:  # another deliverer inserted it first: see what it holds
                row = self._row(request_id, channel)
        if row.state == POSTED:
            return ChatClaim(ref=dict(row.ref))
        if row.lease_until is not None and row.lease_until > now:
            return ChatClaim()  # someone is posting it now
        res = self.conn.execute(
            UPDATE_CLAIMED,
            _here(
                request_id,
                channel,
                where_token=row.claim_token,
                claim_token=token,
                lease_until=lease_until,
                updated_at=now,
            ),
        )
        return ChatClaim(token=token, retaken=True) if res.rowcount == 1 else ChatClaim()

    def finish(
        self,
        request_id: str,
        channel: str,
        *,
        token: str,
        ref: dict[str, Any],
        at: datetime,
        shown: str | None = None,
    ) -> bool:
        res = self.conn.execute(
            UPDATE_CLAIMED,
            _here(
                request_id,
                channel,
                where_token=token,
                ref=ref,
                updated_at=at,
                state=POSTED,
                claim_token=None,
                lease_until=None,
                shown=shown,
            ),
        )
        return bool(res.rowcount == 1)

    def take_shown(self, request_id: str, channel: str) -> str | None:
        q = SHOWN_LOCKED if self._locking else SHOWN
        row = self.conn.execute(q, _here(request_id, channel)).first()
        if row is None or row.shown is None:
            return None
        self.conn.execute(FORGET_SHOWN, _here(request_id, channel, shown=None))
        return str(row.shown)

    def mark_shown(self, request_id: str, channel: str, shown: str) -> bool:
        if self.conn.execute(MARK_SHOWN, _here(request_id, channel, shown=shown)).rowcount:
            return True
        # Another delivery recorded what it showed meanwhile: which came last is unknown.
        self.conn.execute(FORGET_SHOWN, _here(request_id, channel, shown=None))
        return False

    def abandon(self, request_id: str, channel: str, *, token: str, at: datetime) -> None:
        self.conn.execute(
            UPDATE_CLAIMED,
            _here(request_id, channel, where_token=token, lease_until=at, updated_at=at),
        )

    def release(self, request_id: str, channel: str, *, token: str) -> None:
        self.conn.execute(RELEASE, _here(request_id, channel, where_token=token))

    def move(self, channel: str, field: str, old: Any, new: Any) -> int:
        """Read in full and rewritten one by one: a chat changes its id about never, and the
        refs are JSON, which the dialects query differently."""
        rows = self.conn.execute(OF_CHANNEL, {"where_channel": channel}).all()
        moved = [(r.id, {**r.ref, field: new}) for r in rows if r.ref.get(field) == old]
        for row_id, ref in moved:
            self.conn.execute(MOVE, {"where_id": row_id, "ref": ref})
        return len(moved)
