"""The audit log as someone with the database, but not the audit key, would change it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import Engine, text

from bot.adapters.db.audit import SqlAuditLog
from bot.domain.audit import AuditRecord, chain_hash
from bot.domain.model import VoteKind
from bot.service import Services
from bot.service.identity import Identity
from tests import builders

K1 = "k1:" + "a" * 43
K2 = "k2:" + "b" * 43


def decide(svc: Services) -> str:
    """A request submitted, voted on and approved."""
    rid = svc.commands.submit(builders.submission()).request.id
    svc.commands.vote(rid, Identity("slack", "U02BOB"), VoteKind.APPROVE)
    svc.commands.vote(rid, Identity("slack", "U03CAROL"), VoteKind.APPROVE)
    return rid


def events(engine: Engine) -> list[AuditRecord]:
    with engine.connect() as conn:
        return SqlAuditLog(conn).records()


def rewrite(engine: Engine, edit: Callable[[AuditRecord], AuditRecord]) -> int:
    """What someone with the database and a script does: edit events and re-hash the chain
    from the first edited one on (the signatures they cannot make are left as they were).
    Returns the first edited event's number."""
    records = events(engine)
    first, prev = 0, records[0].prev_hash
    with engine.begin() as conn:
        for rec in records:
            new = edit(rec)
            if new != rec and not first:
                first = rec.seq
            new = replace(new, prev_hash=prev)
            new = replace(new, hash=chain_hash(prev, new.body()))
            prev = new.hash
            conn.execute(
                text(
                    "UPDATE audit_events SET actor = :actor, prev_hash = :prev, hash = :hash "
                    "WHERE seq = :seq"
                ),
                {"actor": new.actor, "prev": new.prev_hash, "hash": new.hash, "seq": rec.seq},
            )
        conn.execute(
            text("UPDATE audit_head SET seq = :seq, hash = :hash"),
            {"seq": records[-1].seq, "hash": prev},
        )
    return first


def to_mallory(rec: AuditRecord) -> AuditRecord:
    return replace(rec, actor="mallory") if rec.kind == "decided" else rec
