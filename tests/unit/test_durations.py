from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.durations import parse_duration


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
