"""Durations in config files: ``48h``, ``30m``, ``1d12h``, ``90s``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"^(?:\d+[wdhms])+$")


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ValueError naming the accepted form."""
    cleaned = str(text).strip().lower()
    if not _WHOLE.match(cleaned):
        raise ValueError(
            f"bad duration {text!r}: use a number and a unit, e.g. 30m, 12h, 2d, 1d12h"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    return timedelta(seconds=seconds)
