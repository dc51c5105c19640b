from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.durations import MAX_DURATION, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("48h", timedelta(hours=48)),
        ("30m", timedelta(minutes=30)),
        ("1d12h", timedelta(hours=36)),
        ("90s", timedelta(seconds=90)),
        ("2w", timedelta(days=14)),
        (" 12H ", timedelta(hours=12)),
    ],
)
def test_parse(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "12", "h", "1.5h", "-1h", "0h", "12 hours", "1h 30m"])
def test_bad_durations_name_the_form(text):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["365d", "52w1d", "8760h", "0365d"])
def test_one_year_is_the_longest(text):
    assert parse_duration(text) == MAX_DURATION


@pytest.mark.parametrize(
    "text", ["366d", "52w2d", "600000w", "999999999w", "1" + "0" * 5000 + "s", "365d1s"]
)
def test_longer_than_a_year_is_refused_without_overflow(text):
    # 600000w used to pass and overflow every submission's deadline; 999999999w overflowed
    # timedelta itself; 5000 digits hit int()'s digit limit.
    with pytest.raises(ValueError, match=r"longer than the maximum, 365d \(one year\)"):
        parse_duration(text)
