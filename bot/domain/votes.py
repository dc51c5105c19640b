"""A person's vote on a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class VoteKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Vote:
    person: str
    vote: VoteKind
    channel: str
    at: datetime
    comment: str | None = None
    groups: tuple[str, ...] = ()
    override: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "vote": self.vote.value,
            "channel": self.channel,
            "at": self.at.isoformat(),
            "comment": self.comment,
            "groups": list(self.groups),
            "override": self.override,
        }
