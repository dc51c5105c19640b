"""SQLAlchemy tables. Alembic's env.py reads ``metadata`` from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


people = Table(
    "people",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # Retired (see RETIRED below): identities are rows of person_identities.
    Column("slack_id", String(32), unique=True),
    Column("telegram_id", BigInteger, unique=True),
    Column("email", String(320), unique=True),
)

# How the channels know each person: one row per (kind, value), the kinds being those the
# registered channels declare (``bot/service/identity.py``), each value in its kind's
# canonical form. One person per identity.
person_identities = Table(
    "person_identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("value", String(320), nullable=False),
    UniqueConstraint("kind", "value"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    # Where else the members come from, by the key a channel declares: {key: value}.
    # Nullable: rows the release before migration 0008 inserts have none (read as {}).
    Column("sources", JSON),
    Column("slack_usergroup", String(32)),  # retired, see RETIRED below
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("person_id", ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
)

policies = Table(
    "policies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(200), nullable=False, unique=True),
    Column("rules", JSON, nullable=False),
    Column("deadline_s", Integer, nullable=False),
    Column("remind_every_s", Integer),
    Column("escalate_after_s", Integer),
    Column("escalate_to", String(100)),
    Column("on_expiry", String(16), nullable=False),
    Column("allow_self_approval", Boolean, nullable=False),
    Column("allow_override_failed_gates", Boolean, nullable=False),
    Column("reject_reason_required", Boolean, nullable=False),
    Column("auto_approve_after_s", Integer),  # the veto window (0011); NULL: none
    # (0014) who may roll a canary back or undo a divergence; NULL or []: the approver groups
    Column("rollback_groups", JSON),
    # (0017) the policy's canary, {"steps": [...], "dwell_seconds": n}; NULL: none
    Column("canary", JSON),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("challenger_run_id", String(64)),
    Column("data_run_id", String(64)),
    Column("staging_run_id", String(128)),
    # '' when the submission named no staging run, so the unique key still works.
    Column("submission_key", String(128), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("gates", JSON, nullable=False),
    Column("links", JSON, nullable=False),
    Column("promotion", JSON, nullable=False),
    Column("state", String(24), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deadline_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("decided_by", String(400)),
    Column("reason", Text),
    Column("override", Boolean, nullable=False),
    Column("expiry_action", String(16)),
    Column("next_reminder_at", UtcDateTime),
    Column("reminders_sent", Integer, nullable=False),
    Column("escalate_at", UtcDateTime),
    Column("escalated_at", UtcDateTime),
    Column("promotion_run_id", String(128)),
    Column("promotion_detail", Text),
    # The veto window (0011, bot/domain/window.py): when it ends, whose policy it is.
    Column("auto_approve_at", UtcDateTime),
    Column("auto_approve_policy", String(200)),
    Column("rollout", JSON),  # a canary's progress and control (0015, bot/domain/rollout.py)
    UniqueConstraint("model_name", "model_version", "submission_key"),
    Index("ix_approval_requests_state_model", "state", "model_name"),
    Index("ix_approval_requests_created", "created_at", "id"),
    Index("ix_approval_requests_model_created", "model_name", "created_at", "id"),
    Index("ix_approval_requests_state_created", "state", "created_at", "id"),
)

votes = Table(
    "votes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "request_id",
        ForeignKey("approval_requests.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The configured name at the time of the vote: people may leave the config later.
    Column("person", String(100), nullable=False),
    Column("vote", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("comment", Text),
    Column("groups", JSON, nullable=False),
    Column("override", Boolean, nullable=False),
    UniqueConstraint("request_id", "person"),
    Index("ix_votes_person", "person", "request_id"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(400), nullable=False),
    Column("request_id", String(16), index=True),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # HMAC-SHA256 of the hash with the audit key named key_id (bot/domain/audit_keys.py);
    # both NULL for events written without a key.
    Column("key_id", String(32)),
    Column("mac", String(64)),
)

# One row: the last written (seq, hash). Locking it serialises appends, so the
# chain never forks, and it lets `audit verify` notice a deleted tail. Signed like the
# events (key_id, mac), with the first signed event (signed_from), once a key is set.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(32)),
    Column("mac", String(64)),
    Column("signed_from", BigInteger),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    # "submit,read" (bot/domain/tokens.py); NULL: made before scopes, acts as admin (0008)
    Column("scopes", String(100)),
    Column("requested_by", JSON),  # the names a submission may use; NULL: any
    Column("expires_at", UtcDateTime),
)

# 64-bit ids (SQLite's INTEGER PRIMARY KEY is 64-bit; it needs that exact type to count).
ID64 = BigInteger().with_variant(Integer, "sqlite")

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID64, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_id", String(16), index=True),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    # A delivery claim: who holds the row and until when. A crashed deliverer's
    # claim runs out and another process picks the row up again.
    Column("claim_token", String(32)),
    Column("lease_until", UtcDateTime),
    # When it started failing (None: it has not, or an operator put it back): the outbox
    # gives up APPROVAL_BOT_OUTBOX_GIVE_UP_AFTER later.
    Column("failing_since", UtcDateTime),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),
)

# Where each chat channel shows a request (as the channel names a message: its ``Ref``),
# so every later change updates the same message.
chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", ForeignKey("approval_requests.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("ref", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # posting: a deliverer claimed it (claim_token, until lease_until) and may be posting;
    # posted: ref says where the message is. One message per request and channel.
    Column("state", String(16), nullable=False, server_default="posted"),
    Column("claim_token", String(32)),
    Column("lease_until", UtcDateTime),
    # A digest of what the message shows (0018): an update rendering the same is not sent.
    # Null while a delivery is in flight (it may be changing it), and when unknown.
    Column("shown", String(64)),
    UniqueConstraint("request_id", "channel"),
)

# The pictures a request was submitted with (0013, bot/domain/evidence.py): checked PNG or
# JPEG bytes, at most a few per request, each with its alt text and SHA-256 (which the
# request's `submitted` audit event holds too).
evidence = Table(
    "evidence",
    metadata,
    Column("request_id", ForeignKey("approval_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("media_type", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("alt", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# What a channel keeps across restarts and replicas, by channel and key (e.g. where its long
# poll stopped, or its prompts waiting for their reply).
channel_state = Table(
    "channel_state",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row: the last check of the audit chain (bot/service/audit.py), which the console shows
# and the next check goes on from: the last event that checked out (seq, hash, signed_from),
# or the problem found. Written by the scheduler's check and by `audit verify`.
audit_checks = Table(
    "audit_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signed_from", BigInteger),
    Column("head_seq", BigInteger, nullable=False),
    Column("signatures", Boolean, nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Column("full_at", UtcDateTime),
    Column("problem_seq", BigInteger),
    Column("problem", Text),
)

# Refusals counted beside the audit log (bot/service/refusals.py): a row per `denied` event
# (seq) counting the same refusal's repeats within its window, and, with no request_id, a
# row per window of an unknown identity counting the refusals its cap kept out of the log.
audit_refusals = Table(
    "audit_refusals",
    metadata,
    Column("id", ID64, primary_key=True),
    Column("request_id", String(16)),
    Column("actor", String(400), nullable=False),
    Column("why", String(32), nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("last_at", UtcDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("seq", BigInteger, index=True),
    Index("ix_audit_refusals_actor", "actor", "window_start"),
)

# What the registry ↔ serving watch saw differ (bot/domain/divergence.py, docs/watch.md).
# open_model is the model while the divergence is open and NULL once resolved: its unique
# constraint keeps one open divergence per model across replicas (NULLs never collide).
divergences = Table(
    "divergences",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("model", String(200), nullable=False, index=True),
    Column("open_model", String(200), unique=True),
    Column("service", String(300), nullable=False),
    Column("served_uri", Text),
    Column("served_version", String(64)),
    Column("champion_version", String(64)),
    Column("champion_uri", Text),
    Column("detail", JSON, nullable=False),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolution", Text),
    Column("refs", JSON, nullable=False),
)

# Named leases (bot/service/leases.py): one holder at a time across replicas, until
# expires_at; a holder renews its own, anyone takes an expired one.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

# Each chat's write schedule, shared by the replicas (0018, bot/service/pacing.py): the
# theoretical arrival time of its next write (GCRA) and the end of a 429's block, in
# seconds since the epoch.
send_schedule = Table(
    "send_schedule",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("tat", Float, nullable=False),
    Column("blocked_until", Float, nullable=False),
)

# A channel's inbound updates already processed (Telegram's update_id), so a redelivered
# one is processed once; pruned after a day.
seen_updates = Table(
    "seen_updates",
    metadata,
    Column("channel", String(40), primary_key=True),
    Column("update_key", String(100), primary_key=True),
    Column("seen_at", UtcDateTime, nullable=False),
    Index("ix_seen_updates_seen_at", "seen_at"),
)

# Retired by migration 0008 and kept, unused, for the release before it: its pods still
# serve the database during a rolling upgrade and after a rollback, and a migration never
# drops what a released version reads (docs/architecture.md, "Schema migrations"). Declared
# so that the models and the migrations agree; nothing in this release reads or writes them.
# Drop them in a migration two releases on.
retired_telegram_state = Table(
    "telegram_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
RETIRED = {
    "people": ("slack_id", "telegram_id", "email"),
    "groups": ("slack_usergroup",),
    "telegram_state": ("*",),
}
