"""Admin: the declarative config, API tokens and the audit chain check."""

from __future__ import annotations

import hashlib
import secrets

from bot.domain import errors, text
from bot.domain.audit import ChainProblem
from bot.domain.audit_keys import Keyring
from bot.domain.directory import Directory
from bot.domain.names import Channel
from bot.domain.tokens import ApiToken
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory
from bot.service.audit import AuditChecks
from bot.service.clock import SystemClock
from bot.service.config import diff_directories


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Admin:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock | None = None,
        audit_keys: Keyring | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock or SystemClock()
        self.audit_keys = audit_keys

    def plan(self, new: Directory) -> list[str]:
        """What ``apply`` would change, changing nothing."""
        with self.uow() as uow:
            return diff_directories(uow.directory.load(), new)

    def apply(self, new: Directory, *, actor: str = Channel.CLI) -> list[str]:
        """Replace people, groups and policies; no change → nothing written."""
        with self.uow() as uow:
            changes = diff_directories(uow.directory.load(), new)
            if not changes:
                return []
            new.applied(changes, actor=actor)
            uow.directory.replace(new)
            uow.commit()
        return changes

    def create_token(self, name: str) -> str:
        """A new API token, returned once; only its hash is stored."""
        name = name.strip()
        if not name or len(name) > 100 or not text.is_plain(name):
            raise errors.InvalidRequest(
                "token name must be 1 to 100 characters, without control characters"
            )
        token = "abt_" + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.uow() as uow:
            if uow.tokens.exists(name):
                raise errors.InvalidRequest(f"a token named {name!r} already exists")
            uow.tokens.add(ApiToken.issue(name, hash_token(token), at=now, actor=Channel.CLI))
            uow.commit()
        return token

    def authenticate(self, token: str) -> str | None:
        """The name of the token, or None when it is unknown or revoked."""
        if not token:
            return None
        with self.uow() as uow:
            return uow.tokens.find(hash_token(token))

    def verify_audit(self) -> tuple[int, ChainProblem | None]:
        """Walk the whole chain (``AuditChecks.verify``); (the events that checked out, the
        first problem)."""
        check = AuditChecks(self.uow, clock=self.clock, keys=self.audit_keys).verify()
        return check.last.seq, check.problem
