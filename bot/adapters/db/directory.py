"""``DirectoryRepository`` over SQLAlchemy Core: people, groups, policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select

from bot.adapters.db import tables as t
from bot.adapters.db.mapping import person_from_row, person_row, policy_from_row, policy_row
from bot.domain.model import Group, Person, Policy
from bot.domain.names import IdentityKind
from bot.ports import Directory

# The column each kind of identity is looked up in (``IdentityKind.normalise``d values).
_IDENTITY_COLUMN: dict[IdentityKind, Any] = {
    IdentityKind.NAME: t.people.c.name,
    IdentityKind.SLACK: t.people.c.slack_id,
    IdentityKind.TELEGRAM: t.people.c.telegram_id,
    IdentityKind.EMAIL: func.lower(t.people.c.email),
}


# Prebuilt (see ``bot/adapters/db/engine.py``).
PERSON_BY = {
    kind: select(t.people).where(column == bindparam("identity"))
    for kind, column in _IDENTITY_COLUMN.items()
}
GROUPS_OF = (
    select(t.groups.c.name)
    .join(t.group_members, t.group_members.c.group_id == t.groups.c.id)
    .join(t.people, t.people.c.id == t.group_members.c.person_id)
    .where(t.people.c.name == bindparam("person"))
)
POLICY_FOR = select(t.policies).where(
    or_(t.policies.c.model == bindparam("model"), t.policies.c.model == "*")
)


class SqlDirectoryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def load(self) -> Directory:
        people = tuple(
            person_from_row(r)
            for r in self.conn.execute(select(t.people).order_by(t.people.c.name))
        )
        members: dict[int, set[str]] = {}
        for r in self.conn.execute(
            select(t.group_members.c.group_id, t.people.c.name).join(
                t.people, t.people.c.id == t.group_members.c.person_id
            )
        ):
            members.setdefault(r.group_id, set()).add(r.name)
        groups = tuple(
            Group(r.name, frozenset(members.get(r.id, ())), r.slack_usergroup)
            for r in self.conn.execute(select(t.groups).order_by(t.groups.c.name))
        )
        policies = tuple(
            policy_from_row(r)
            for r in self.conn.execute(select(t.policies).order_by(t.policies.c.model))
        )
        return Directory(people, groups, policies)

    def person_by_identity(self, kind: IdentityKind, value: str) -> Person | None:
        wanted = kind.normalise(value)
        if wanted is None:
            return None
        key: Any = int(wanted) if kind is IdentityKind.TELEGRAM else wanted
        r = self.conn.execute(PERSON_BY[kind], {"identity": key}).first()
        return person_from_row(r) if r else None

    def groups_of(self, person: str) -> frozenset[str]:
        return frozenset(r.name for r in self.conn.execute(GROUPS_OF, {"person": person}))

    def policy_for(self, model_name: str) -> Policy | None:
        rows = {r.model: r for r in self.conn.execute(POLICY_FOR, {"model": model_name})}
        row = rows.get(model_name) or rows.get("*")
        return policy_from_row(row) if row else None

    def replace(self, directory: Directory) -> None:
        """Make the stored directory equal to ``directory`` (inside the caller's transaction)."""
        for table in (t.group_members, t.groups, t.people, t.policies):
            self.conn.execute(delete(table))
        ids: dict[str, int] = {}
        for p in directory.people:
            res = self.conn.execute(insert(t.people).values(**person_row(p)))
            ids[p.name] = res.inserted_primary_key[0]
        for g in directory.groups:
            gid = self.conn.execute(
                insert(t.groups).values(name=g.name, slack_usergroup=g.slack_usergroup)
            ).inserted_primary_key[0]
            if g.members:
                self.conn.execute(
                    insert(t.group_members),
                    [{"group_id": gid, "person_id": ids[m]} for m in sorted(g.members)],
                )
        for pol in directory.policies:
            self.conn.execute(insert(t.policies).values(**policy_row(pol)))
