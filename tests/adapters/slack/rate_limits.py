"""Slack's Web API rate limits, as the strict fake Slack applies them.

Slack evaluates limits "per API method per app per workspace", in tiers of requests per
minute, and ``chat.postMessage`` per channel ("generally allows posting one message per
second per channel ... Short bursts >1 allowed"), answering HTTP 429 with ``Retry-After``
(seconds) and ``{"ok": false, "error": "ratelimited"}`` (https://api.slack.com/apis/rate-limits;
each method's tier is on its reference page, docs.slack.dev/reference/methods/<method>).
The tiers are "N+ per minute": the fake allows N, the least Slack promises. The burst
``chat.postMessage`` tolerates is not documented: the fake allows 10 in any 10 seconds per
channel (one a second on average).

``conversations.history`` and ``conversations.replies`` are Tier 3 for internal apps such as
this one; apps distributed outside the Marketplace got 1 a minute in 2025 (docs.slack.dev,
"Rate limit changes for non-Marketplace apps"): not modelled.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    calls: int
    seconds: float = 60.0
    per_channel: bool = False  # counted per (method, channel), not per method


TIER_1, TIER_2, TIER_3, TIER_4 = Limit(1), Limit(20), Limit(50), Limit(100)

LIMITS: dict[str, Limit] = {
    "chat.postMessage": Limit(10, 10.0, per_channel=True),  # special: 1/s per channel
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "usergroups.users.list": TIER_2,
    "auth.test": TIER_4,  # special; generous
    "apps.connections.open": TIER_1,
}


class RateLimits:
    """Sliding windows of accepted calls; ``check`` answers how long to wait, or None."""

    def __init__(
        self, limits: dict[str, Limit] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = dict(LIMITS if limits is None else limits)
        self.clock = clock
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, method: str, channel: str | None) -> int | None:
        """Count the call when it is allowed (None); else the Retry-After, in seconds."""
        limit = self.limits.get(method)
        if limit is None:
            return None
        key = (method, (channel or "") if limit.per_channel else "")
        now = self.clock()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - limit.seconds:
                calls.popleft()
            if len(calls) >= limit.calls:
                return max(1, math.ceil(calls[0] + limit.seconds - now))
            calls.append(now)
        return None
