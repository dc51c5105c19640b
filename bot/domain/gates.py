"""Gate results: what the staging pipeline measured, against which threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The first promotion has no champion: the staging pipeline sends this for its accuracy.
NO_CHAMPION = -1.0

_OPS = {
    "<": lambda v, t: v < t,
    "<=": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    ">=": lambda v, t: v >= t,
    "==": lambda v, t: v == t,
}
GATE_OPS = tuple(_OPS)


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str
    value: float
    threshold: float
    op: str
    passed: bool

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"gate {self.name!r}: op must be one of {', '.join(GATE_OPS)}")
        if not (math.isfinite(self.value) and math.isfinite(self.threshold)):
            raise ValueError(f"gate {self.name!r}: value and threshold must be finite numbers")

    @property
    def no_champion(self) -> bool:
        """The first-promotion sentinel: there is no champion to compare with."""
        return self.name == "challenger_accuracy" and self.threshold == NO_CHAMPION

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
