"""Retry schedule for effects: exponential backoff with jitter."""

from __future__ import annotations

from datetime import timedelta


def retry_delay(attempt: int, *, base: float, cap: float, jitter: float) -> timedelta:
    """Delay before the next try after ``attempt`` failed tries (1-based).

    ``jitter`` is a number in [0, 1) (random in production); it spreads the delay
    over [½, 1½) of the exponential step so that replicas do not retry in lockstep.
    """
    doublings = min(max(0, attempt - 1), 64)  # 2**64 × any base is past any cap
    step = min(cap, base * 2.0**doublings)
    return timedelta(seconds=step * (0.5 + jitter))
