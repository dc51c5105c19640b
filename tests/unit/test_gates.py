"""Gates: the bot judges them itself from value, op and threshold."""

from __future__ import annotations

import pytest

from bot.domain.gates import NO_CHAMPION, GateDisagrees, GateResult


@pytest.mark.parametrize(
    ("value", "op", "threshold", "passed"),
    [
        (500, "<", 100, False),
        (5, "<", 100, True),
        (100, "<=", 100, True),
        (100, "<", 100, False),
        (0.97, ">=", 0.97, True),
        (0.96, ">", 0.97, False),
        (1, "==", 1.0, True),
    ],
)
def test_passed_is_computed_from_value_op_and_threshold(value, op, threshold, passed):
    assert GateResult("g", value, threshold, op).passed is passed


def test_a_claimed_result_that_disagrees_with_the_numbers_is_refused_naming_the_gate():
    with pytest.raises(GateDisagrees, match=r"latency_p99_ms: 500 < 100 is false"):
        GateResult("latency_p99_ms", 500, 100, "<", True)
    assert GateResult("latency_p99_ms", 500, 100, "<", False).passed is False


def test_the_first_promotion_sentinel_means_no_champion_and_passes():
    gate = GateResult("challenger_accuracy", 0.2, NO_CHAMPION, ">=")
    assert gate.no_champion and gate.passed
    assert "no champion yet" in gate.describe()
    # The sentinel only means something for the champion comparison.
    assert not GateResult("latency_p99_ms", 0.2, NO_CHAMPION, "<=").passed
