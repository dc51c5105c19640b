"""Durations in config files: ``48h``, ``30m``, ``1d12h``, ``90s``, ``2w``.

A duration is at most ``MAX_DURATION`` (one year): a deadline, a reminder interval or an
escalation delay longer than that is a typo, and one long enough would overflow the date it
is added to (``now + 600000w`` is past the year 9999) on every submission. The bound is
checked on the digits, before any arithmetic, so no input can overflow here either.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"^(?:\d+[wdhms])+$")

MAX_DURATION = timedelta(days=365)
MAX_SHOWN = "365d (one year)"
_MAX_SECONDS = int(MAX_DURATION.total_seconds())
_MAX_DIGITS = len(str(_MAX_SECONDS))  # any number with more digits is over the bound


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ValueError naming the accepted form or the bound."""
    cleaned = str(text).strip().lower()
    if not _WHOLE.match(cleaned):
        raise ValueError(
            f"bad duration {text!r}: use a number and a unit, e.g. 30m, 12h, 2d, 1d12h"
        )
    seconds = 0
    for number, unit in _PART.findall(cleaned):
        digits = number.lstrip("0")
        if len(digits) > _MAX_DIGITS:
            seconds = _MAX_SECONDS + 1
            break
        seconds += int(digits or "0") * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"duration {text!r} is longer than the maximum, {MAX_SHOWN}")
    return timedelta(seconds=seconds)
