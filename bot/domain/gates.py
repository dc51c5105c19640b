"""Gate results: what the staging pipeline measured, against which threshold.

The bot judges every gate itself from its value, op and threshold: a pipeline reports what
it measured, and whatever it claims about ``passed`` is only checked against that.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The first promotion has no champion to compare with: the staging pipeline sends this as
# the threshold of ``challenger_accuracy`` (the champion's accuracy), and the gate passes.
NO_CHAMPION = -1.0
NO_CHAMPION_GATE = "challenger_accuracy"

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "==": lambda v, t: v == t,
}
GATE_OPS = tuple(_OPS)


class GateDisagrees(ValueError):
    """A submitted ``passed`` that the gate's own numbers contradict."""


def is_no_champion(name: str, threshold: float) -> bool:
    """Is this the first-promotion sentinel (no champion to compare with)?"""
    return name == NO_CHAMPION_GATE and threshold == NO_CHAMPION


def judge(name: str, value: float, op: str, threshold: float) -> bool:
    """Does ``value op threshold`` hold? The no-champion sentinel always passes."""
    if op not in _OPS:
        raise ValueError(f"gate {name!r}: op must be one of {', '.join(GATE_OPS)}")
    if not (math.isfinite(value) and math.isfinite(threshold)):
        raise ValueError(f"gate {name!r}: value and threshold must be finite numbers")
    return is_no_champion(name, threshold) or _OPS[op](value, threshold)


def disagreement(name: str, value: float, op: str, threshold: float, claimed: bool) -> str | None:
    """Why ``claimed`` is wrong for these numbers, or None when it agrees."""
    actual = judge(name, value, op, threshold)
    if claimed is actual:
        return None
    verdict = "true" if actual else "false"
    return (
        f"{name}: {value:g} {op} {threshold:g} is {verdict}, but passed says "
        f"{'true' if claimed else 'false'}; leave passed out, the bot judges the gate itself"
    )


@dataclass(frozen=True, slots=True, init=False)
class GateResult:
    """One gate. ``passed`` is computed here; a ``passed`` given to the constructor is a
    claim that must agree with the numbers (``GateDisagrees`` otherwise)."""

    name: str
    value: float
    threshold: float
    op: str
    passed: bool

    def __init__(
        self, name: str, value: float, threshold: float, op: str, passed: bool | None = None
    ) -> None:
        actual = judge(name, value, op, threshold)
        if passed is not None and (problem := disagreement(name, value, op, threshold, passed)):
            raise GateDisagrees(problem)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "passed", actual)

    @classmethod
    def stored(cls, data: dict[str, Any]) -> GateResult:
        """A gate as it was stored: judged again (a stored verdict is not trusted either)."""
        return cls(str(data["name"]), data["value"], data["threshold"], str(data["op"]))

    @property
    def no_champion(self) -> bool:
        """The first-promotion sentinel: there is no champion to compare with."""
        return is_no_champion(self.name, self.threshold)

    def describe(self) -> str:
        mark = "passed" if self.passed else "FAILED"
        if self.no_champion:
            return f"{self.name} = {self.value:g} (no champion yet) {mark}"
        return f"{self.name} = {self.value:g} {self.op} {self.threshold:g} {mark}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "op": self.op,
            "passed": self.passed,
        }
