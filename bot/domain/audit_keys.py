"""The audit log's signing keys: HMAC-SHA256 keys the database never holds.

A key is written ``KEY_ID:SECRET`` (``APPROVAL_BOT_AUDIT_KEY``); the id is stored beside
every record it signs, so a key can be rotated: a new key (a new id) signs from then on,
and the old one stays, verify-only, in ``APPROVAL_BOT_AUDIT_VERIFY_KEYS`` (a comma-separated
list of the same form) for the records it signed. docs/audit-log.md.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from bot.domain.errors import DomainError

KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
SECRET = re.compile(r"[A-Za-z0-9+/=_-]+")
MIN_SECRET = 32  # characters: `openssl rand -base64 32` gives 44
MAX_SECRET = 512
SECRET_FORM = f"{MIN_SECRET} to {MAX_SECRET} characters of A-Z a-z 0-9 + / = _ -"
FORM = (
    f"KEY_ID:SECRET, the id 1 to 32 of A-Z a-z 0-9 . _ - and the secret {SECRET_FORM} "
    '(e.g. "2026-01:$(openssl rand -base64 32)")'
)


@dataclass(frozen=True, slots=True)
class AuditKey:
    id: str
    secret: bytes = field(repr=False)


def parse_key(value: str) -> AuditKey:
    """``KEY_ID:SECRET``; ValueError naming the problem (never the secret)."""
    key_id, colon, secret = value.strip().partition(":")
    if not colon or not KEY_ID.fullmatch(key_id):
        raise ValueError(f"must be {FORM}")  # (not the id: it may be the secret)
    if not SECRET.fullmatch(secret) or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise ValueError(
            f"the secret of key {key_id!r} must be {SECRET_FORM} "
            "(make one with `openssl rand -base64 32`)"
        )
    return AuditKey(key_id, secret.encode())


@dataclass(frozen=True, slots=True)
class Keyring:
    """The key that signs (``current``) and the retired ones that only verify."""

    current: AuditKey | None = None
    retired: tuple[AuditKey, ...] = ()

    @classmethod
    def parse(cls, current: str | None, retired: str | None = None) -> Keyring:
        """From the two settings; ValueError naming the problem."""
        key = parse_key(current) if current and current.strip() else None
        old = tuple(parse_key(part) for part in (retired or "").split(",") if part.strip())
        ids = [k.id for k in ([key] if key else []) + list(old)]
        for key_id in ids:
            if ids.count(key_id) > 1:
                raise ValueError(
                    f"key id {key_id!r} is given twice: each key needs an id of its own"
                )
        return cls(key, old)

    @property
    def configured(self) -> bool:
        return self.current is not None or bool(self.retired)

    def key(self, key_id: str) -> AuditKey | None:
        for key in (self.current, *self.retired):
            if key is not None and key.id == key_id:
                return key
        return None


def record_mac(key: AuditKey, digest: str) -> str:
    """The signature of the record whose chain hash is ``digest`` (which covers every
    record before it, too)."""
    return _mac(key, f"approval-bot audit event v1\n{key.id}\n{digest}")


def head_mac(key: AuditKey, seq: int, digest: str, signed_from: int | None) -> str:
    """The signature of the head: a different message from any record's, so a record's
    signature cannot be copied onto an earlier head."""
    return _mac(key, f"approval-bot audit head v1\n{key.id}\n{seq}\n{digest}\n{signed_from}")


def _mac(key: AuditKey, message: str) -> str:
    return hmac.new(key.secret, message.encode(), hashlib.sha256).hexdigest()


class AuditKeyMissing(DomainError):
    """The log is signed, but no key is set here to sign what comes next."""

    code = "audit_key_missing"

    def __init__(self, signed_from: int) -> None:
        super().__init__(
            f"the audit log is signed from event #{signed_from} on, but APPROVAL_BOT_AUDIT_KEY "
            "is not set here: set it (the same key as the other replicas; docs/audit-log.md) "
            "so that nothing is written unsigned"
        )
