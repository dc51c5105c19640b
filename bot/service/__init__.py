"""Use cases over the ports, split by purpose; they own the transactions.

- ``commands``: what changes requests (submit, vote, scans, promotion progress);
- ``queries``: the read models every channel shows;
- ``admin``: the declarative config, API tokens;
- ``audit``: checking the audit chain (in full, or on from the last check);
- ``leases``: work one replica at a time does (named leases in the database);
- ``chat``: the chat core every chat channel shares (``bot/service/chat``);
- ``outbox``: delivering effects (``OutboxDispatcher``) and kicking delivery (``Delivery``).

Entry points and adapters call these and never open a unit of work themselves. The unit of
work records the events of what it saw when it commits (``unit_of_work.Recorder``, which
``build_services`` installs on the factory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.domain.access import ReadAccess
from bot.domain.audit_keys import Keyring
from bot.domain.model import ApprovalRequest
from bot.ports.clock import Clock
from bot.ports.store import UnitOfWorkFactory
from bot.service.admin import Admin
from bot.service.audit import AuditChecks
from bot.service.chat.state import ChatMessages
from bot.service.clock import SystemClock
from bot.service.commands import Commands
from bot.service.identity import IdentityKinds
from bot.service.leases import Leases
from bot.service.queries import Queries
from bot.service.rollouts import Rollouts
from bot.service.unit_of_work import Recorder
from bot.service.watch_actions import WatchActions


@dataclass(frozen=True, slots=True)
class Services:
    """The use cases of one process, sharing one unit-of-work factory and one clock."""

    uow: UnitOfWorkFactory
    clock: Clock
    channels: tuple[str, ...]  # where messages about requests go
    identities: IdentityKinds
    recorder: Recorder
    commands: Commands
    queries: Queries
    admin: Admin
    chat: ChatMessages
    audit: AuditChecks
    leases: Leases
    watch: WatchActions  # what people may do about a divergence (docs/watch.md)
    rollouts: Rollouts


def build_services(
    uow: UnitOfWorkFactory,
    *,
    clock: Clock | None = None,
    channels: Sequence[str] = (),
    identities: IdentityKinds | None = None,
    id_factory: Callable[[], str] | None = None,
    on_decided: Callable[[ApprovalRequest], None] | None = None,
    read_access: ReadAccess | None = None,
    audit_keys: Keyring | None = None,
    canary_analysis: bool = False,
) -> Services:
    """The services over ``uow``, on which it installs the event ``Recorder``.
    ``audit_keys`` verify the audit chain; the unit of work's own keys sign it
    (``SqlUnitOfWorkFactory``): give both the same ``Keyring``. ``canary_analysis``: is
    APPROVAL_BOT_PROMETHEUS_URL configured (a policy's canary needs it)?"""
    clock = clock or SystemClock()
    identities = identities or IdentityKinds()
    recorder = Recorder(clock, tuple(channels))
    uow.recorder = recorder
    commands = Commands(
        uow, clock=clock, identities=identities, id_factory=id_factory, on_decided=on_decided
    )
    return Services(
        uow=uow,
        clock=clock,
        channels=tuple(channels),
        identities=identities,
        recorder=recorder,
        commands=commands,
        queries=Queries(uow, read_access=read_access, identities=identities),
        admin=Admin(uow, clock=clock, audit_keys=audit_keys, canary_analysis=canary_analysis),
        chat=ChatMessages(uow, clock=clock),
        audit=AuditChecks(uow, clock=clock, keys=audit_keys),
        leases=Leases(uow, clock),
        watch=WatchActions(uow, identities, clock),
        rollouts=Rollouts(commands),
    )
