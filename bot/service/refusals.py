"""Refused votes in the audit log, without letting them flood it.

A vote refused in a chat channel or the console leaves a `denied` event, except that:

- "already voted" and "already decided" leave none: the vote or the decision they bump into
  is in the log already, and the refusal changes nothing (a double tap, a late click);
- the same refusal (same identity, same request, same reason) within ``WINDOW`` of its event
  is that one event: the repeats are counted beside it (``AuditRecord.repeats``, "×N");
- an identity that is nobody in the config (or a stranger: another workspace's) leaves at
  most ``UNKNOWN_CAP`` events per ``WINDOW`` over all requests; the refusals its cap keeps
  out are counted, and logged once a window.

The counts live beside the hash chain, not in it: an event cannot change once written.
README.md ("Audit log") says the same.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain import errors
from bot.domain.model import ApprovalRequest, VoteKind
from bot.ports.store import UnitOfWork

log = logging.getLogger("bot.audit")

WINDOW = timedelta(minutes=10)
UNKNOWN_CAP = 5  # events per unknown identity per WINDOW
SILENT = frozenset({errors.AlreadyVoted.code, errors.AlreadyDecided.code})


def record_refusal(
    uow: UnitOfWork,
    request: ApprovalRequest,
    actor: str,
    vote: VoteKind,
    refusal: errors.DomainError,
    now: datetime,
) -> bool:
    """Let the request raise the refusal's `denied` event, or count it; True when the event
    is raised (the audit log indexes it when it is written, ``RefusalLog``).

    The caller commits (a count is a write too). Call it under the request's row lock, as
    ``Commands.vote`` does: the same request's refusals are then counted one at a time.
    """
    if refusal.code in SILENT:
        return False
    since = now - WINDOW
    if uow.refusals.repeat(request.id, actor, refusal.code, since=since, at=now):
        return False
    if isinstance(refusal, errors.UnknownPerson | errors.Stranger):
        written = uow.refusals.written(actor, since=since)
        if written >= UNKNOWN_CAP:
            if uow.refusals.kept_out(actor, since=since, at=now) == 1:
                log.warning(
                    "audit: %s was refused %d times in %d minutes: their refusals are counted, "
                    "not written, until the window ends",
                    actor,
                    written,
                    WINDOW // timedelta(minutes=1),
                )
            return False
    request.refused(actor=actor, vote=vote, error=refusal)
    return True
