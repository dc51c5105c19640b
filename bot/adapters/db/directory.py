"""``DirectoryRepository`` over SQLAlchemy Core: people and their identities, groups,
policies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select

from bot.adapters.db import tables as t
from bot.adapters.db.mapping import policy_from_row, policy_row
from bot.domain.directory import Directory
from bot.domain.model import Group, Person, Policy
from bot.domain.people import NAME
from bot.ports.store import Tracker

_p, _i = t.people.c, t.person_identities.c
_wanted = t.person_identities.alias("wanted")

# Prebuilt (see ``bot/adapters/db/engine.py``): a person with all their identities, found by
# one of them (``kind``, ``value``) or by name (``value``); one row per identity.
PERSON_BY_IDENTITY = (
    select(_p.name, _i.kind, _i.value)
    .select_from(
        _wanted.join(t.people, _p.id == _wanted.c.person_id).outerjoin(
            t.person_identities, _i.person_id == _p.id
        )
    )
    .where(_wanted.c.kind == bindparam("kind"), _wanted.c.value == bindparam("value"))
)
PERSON_BY_NAME = (
    select(_p.name, _i.kind, _i.value)
    .select_from(t.people.outerjoin(t.person_identities, _i.person_id == _p.id))
    .where(_p.name == bindparam("value"))
)
GROUPS_OF = (
    select(t.groups.c.name)
    .join(t.group_members, t.group_members.c.group_id == t.groups.c.id)
    .join(t.people, _p.id == t.group_members.c.person_id)
    .where(_p.name == bindparam("person"))
)
POLICY_FOR = select(t.policies).where(
    or_(t.policies.c.model == bindparam("model"), t.policies.c.model == "*")
)
GROUP_SOURCES = select(t.groups.c.name, t.groups.c.sources)


def _people(rows: Iterable[Any]) -> list[Person]:
    """People from (name, kind, value) rows, in the order their names first come."""
    ids: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        found = ids.setdefault(r.name, [])
        if r.kind is not None:
            found.append((r.kind, r.value))
    return [Person(name, tuple(sorted(pairs))) for name, pairs in ids.items()]


def _sources(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (value or {}).items()))


class SqlDirectoryRepository:
    def __init__(self, conn: Connection, seen: Tracker) -> None:
        self.conn = conn
        self.seen = seen

    def load(self) -> Directory:
        people = _people(
            self.conn.execute(
                select(_p.name, _i.kind, _i.value)
                .select_from(t.people.outerjoin(t.person_identities, _i.person_id == _p.id))
                .order_by(_p.name, _i.kind)
            )
        )
        members: dict[int, set[str]] = {}
        for r in self.conn.execute(
            select(t.group_members.c.group_id, _p.name).join(
                t.people, _p.id == t.group_members.c.person_id
            )
        ):
            members.setdefault(r.group_id, set()).add(r.name)
        groups = tuple(
            Group(r.name, frozenset(members.get(r.id, ())), _sources(r.sources))
            for r in self.conn.execute(select(t.groups).order_by(t.groups.c.name))
        )
        policies = tuple(
            policy_from_row(r)
            for r in self.conn.execute(select(t.policies).order_by(t.policies.c.model))
        )
        return Directory(tuple(people), groups, policies)

    def person_by_identity(self, kind: str, value: str) -> Person | None:
        if kind == NAME:
            rows = self.conn.execute(PERSON_BY_NAME, {"value": value})
        else:
            rows = self.conn.execute(PERSON_BY_IDENTITY, {"kind": kind, "value": value})
        found = _people(rows)
        return found[0] if found else None

    def groups_of(self, person: str) -> frozenset[str]:
        return frozenset(r.name for r in self.conn.execute(GROUPS_OF, {"person": person}))

    def sourced_groups(self, key: str) -> frozenset[str]:
        rows = self.conn.execute(GROUP_SOURCES)
        return frozenset(r.name for r in rows if key in (r.sources or {}))

    def policy_for(self, model_name: str) -> Policy | None:
        rows = {r.model: r for r in self.conn.execute(POLICY_FOR, {"model": model_name})}
        row = rows.get(model_name) or rows.get("*")
        return policy_from_row(row) if row else None

    def replace(self, directory: Directory) -> None:
        """Make the stored directory equal to ``directory`` (inside the caller's transaction)."""
        for table in (
            t.person_identities,
            t.group_members,
            t.groups,
            t.people,
            t.policies,
        ):
            self.conn.execute(delete(table))
        ids: dict[str, int] = {}
        for p in directory.people:
            ids[p.name] = self.conn.execute(
                insert(t.people).values(name=p.name)
            ).inserted_primary_key[0]
        identities = [
            {"person_id": ids[p.name], "kind": kind, "value": value}
            for p in directory.people
            for kind, value in p.ids
        ]
        if identities:
            self.conn.execute(insert(t.person_identities), identities)
        for g in directory.groups:
            gid = self.conn.execute(
                insert(t.groups).values(name=g.name, sources=dict(g.sources))
            ).inserted_primary_key[0]
            if g.members:
                self.conn.execute(
                    insert(t.group_members),
                    [{"group_id": gid, "person_id": ids[m]} for m in sorted(g.members)],
                )
        for pol in directory.policies:
            self.conn.execute(insert(t.policies).values(**policy_row(pol)))
        self.seen.track(directory)
