"""The states of a request, and the groups of them the rules and the queries speak of."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    PROMOTION_FAILED = "promotion_failed"


# The terminal decisions a pending request can reach.
DECISIONS = frozenset(
    {State.APPROVED, State.REJECTED, State.EXPIRED, State.SUPERSEDED, State.CANCELLED}
)
# "Approved" as a decision: the promotion that follows does not change it.
APPROVED_LIKE = frozenset({State.APPROVED, State.PROMOTING, State.PROMOTED, State.PROMOTION_FAILED})
# Everything that is no longer waiting for votes.
DECIDED = frozenset(State) - {State.PENDING}
# What ``--decision`` / ``?decision=`` accept: pending, or a decision.
DECISION_FILTERS = (
    State.PENDING,
    State.APPROVED,
    State.REJECTED,
    State.EXPIRED,
    State.SUPERSEDED,
    State.CANCELLED,
)


def states_for_decision(decision: State) -> frozenset[State]:
    """The states a request is in when its decision is ``decision``."""
    return APPROVED_LIKE if decision is State.APPROVED else frozenset({decision})


# After a decision only the promotion may move on, and only forward.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.PENDING: DECISIONS,
    State.APPROVED: frozenset({State.PROMOTING, State.PROMOTION_FAILED}),
    State.PROMOTING: frozenset({State.PROMOTED, State.PROMOTION_FAILED}),
}
