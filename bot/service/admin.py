"""Admin: the declarative config, API tokens and the audit chain check."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta

from bot.domain import errors, lookalike, text
from bot.domain.audit import ChainProblem
from bot.domain.audit_keys import Keyring
from bot.domain.directory import Directory
from bot.domain.names import Channel
from bot.domain.tokens import ApiToken, Scope
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory
from bot.service.audit import AuditChecks
from bot.service.clock import SystemClock
from bot.service.config import diff_directories

log = logging.getLogger("bot.admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Admin:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        clock: Clock | None = None,
        audit_keys: Keyring | None = None,
        canary_analysis: bool = False,
    ) -> None:
        self.uow = uow
        # Is APPROVAL_BOT_PROMETHEUS_URL configured? A policy's canary is judged there.
        self.canary_analysis = canary_analysis
        self.clock = clock or SystemClock()
        self.audit_keys = audit_keys
        self._warned: set[str] = set()  # legacy tokens already warned about

    def plan(self, new: Directory) -> list[str]:
        """What ``apply`` would change, changing nothing."""
        self.refuse_canaries_without_analysis(new)
        with self.uow() as uow:
            return diff_directories(uow.directory.load(), new)

    def apply(self, new: Directory, *, actor: str = Channel.CLI) -> list[str]:
        """Replace people, groups and policies; no change → nothing written."""
        self.refuse_canaries_without_analysis(new)
        with self.uow() as uow:
            changes = diff_directories(uow.directory.load(), new)
            if not changes:
                return []
            new.applied(changes, actor=actor)
            uow.directory.replace(new)
            uow.commit()
        return changes

    def refuse_canaries_without_analysis(self, directory: Directory | None = None) -> None:
        """A policy canary needs APPROVAL_BOT_PROMETHEUS_URL: ``ConfigError`` (one line) when
        ``directory`` (None: the stored one, checked as `serve` starts) has one without it."""
        if self.canary_analysis:
            return
        if directory is None:
            with self.uow() as uow:
                directory = uow.directory.load()
        models = [p.model for p in directory.policies if p.canary is not None]
        if models:
            raise errors.ConfigError(
                f"the policy for {', '.join(repr(m) for m in models)} asks for a canary, which "
                "needs APPROVAL_BOT_PROMETHEUS_URL: a canary is judged on Prometheus "
                '(docs/kserve.md, "Canary"); set it or remove the policy\'s canary'
            )

    def create_token(
        self,
        name: str,
        scopes: frozenset[Scope],
        *,
        requested_by: Sequence[str] = (),
        expires_in: timedelta | None = None,
    ) -> str:
        """A new API token, returned once; only its hash is stored (bot/domain/tokens.py)."""
        name = name.strip()
        if not name or len(name) > 100 or not text.is_plain(name):
            raise errors.InvalidRequest(
                "token name must be 1 to 100 characters, without control characters"
            )
        if not scopes:
            raise errors.InvalidRequest("a token needs at least one scope: submit, read, admin")
        names = tuple(dict.fromkeys(_submitter(n) for n in requested_by))
        if names and not ({Scope.SUBMIT, Scope.ADMIN} & scopes):
            raise errors.InvalidRequest("requested_by names only matter for a submit token")
        now = self.clock.now()
        expires_at = now + expires_in if expires_in is not None else None
        token = ApiToken(name, frozenset(scopes), None, names, expires_at, now)
        token.issued(actor=Channel.CLI)
        secret = "abt_" + secrets.token_urlsafe(32)
        with self.uow() as uow:
            if uow.tokens.exists(name):
                raise errors.InvalidRequest(f"a token named {name!r} already exists")
            uow.tokens.add(token, hash_token(secret))
            uow.commit()
        return secret

    def revoke_token(self, name: str) -> None:
        """Revoke a token at once; ``InvalidRequest`` when no active token has that name."""
        with self.uow() as uow:
            token = uow.tokens.revoke(name, self.clock.now())
            if token is None:
                raise errors.InvalidRequest(f"no active token named {name!r} (`token list`)")
            token.revoked_by(Channel.CLI)
            uow.commit()

    def tokens(self) -> list[ApiToken]:
        with self.uow() as uow:
            return uow.tokens.listed()

    def authenticate(self, token: str) -> ApiToken | None:
        """The token, or None when it is unknown or revoked (check ``expired`` yourself)."""
        if not token:
            return None
        with self.uow() as uow:
            found = uow.tokens.find(hash_token(token))
        if found is not None and found.legacy and found.name not in self._warned:
            self._warned.add(found.name)
            log.warning(
                "API token %r was made before token scopes and acts as admin: replace it "
                "with a scoped one (approval-bot token create NAME --scope ...), then "
                "`approval-bot token revoke %s` (README.md, API tokens)",
                found.name,
                found.name,
            )
        return found

    def verify_audit(self) -> tuple[int, ChainProblem | None]:
        """Walk the whole chain (``AuditChecks.verify``); (the events that checked out, the
        first problem)."""
        check = AuditChecks(self.uow, clock=self.clock, keys=self.audit_keys).verify()
        return check.last.seq, check.problem


def _submitter(name: str) -> str:
    """A name a submit token may use as ``requested_by``: as the API takes it, NFKC, and by
    the look-alike rules of people's names (so a token cannot be pinned to a disguise)."""
    normal = lookalike.normalise(name.strip())
    why = text.problem(normal, name=True) or lookalike.problem(normal)
    if not normal or len(normal) > 200 or why:
        raise errors.InvalidRequest(
            f"requested_by {name!r}: {why or 'must be 1 to 200 characters'}"
        )
    return normal
