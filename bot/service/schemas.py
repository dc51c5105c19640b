"""Validation of what comes from outside: submissions and declarative config.

pydantic turns a bad body into errors with the field's path; ``field_errors``
renders them as ``path: problem`` lines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.domain.gates import GATE_OPS, disagreement

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
RunId = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]


def loc_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(body)"


def field_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if p not in ("function-after", "list[str]", "GroupSpec")]
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required field is missing"
        msg = msg.removeprefix("Value error, ")
        lines.append(f"{loc_path(loc)}: {msg}")
    return lines


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class GateIn(Strict):
    """What the pipeline measured. Strict: numbers are numbers and booleans are booleans.

    ``passed`` may be left out: the bot judges the gate itself. When given, it must agree.
    """

    model_config = ConfigDict(strict=True)

    name: Name
    value: float
    threshold: float
    op: Literal["<", "<=", ">", ">=", "=="]
    passed: bool | None = None

    @field_validator("value", "threshold")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("passed")
    @classmethod
    def _agrees(cls, v: bool | None, info: ValidationInfo) -> bool | None:
        got = info.data
        if v is None or not {"name", "value", "threshold", "op"} <= got.keys():
            return v  # the other fields' own errors say what is wrong
        problem = disagreement(got["name"], got["value"], got["op"], got["threshold"], v)
        if problem:
            raise ValueError(problem)
        return v


assert set(GATE_OPS) == {"<", "<=", ">", ">=", "=="}


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    parameters: dict[str, Any] = Field(default_factory=dict)


class SubmissionIn(Strict):
    model_name: Name
    model_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
    ]
    challenger_run_id: RunId | None = None
    data_run_id: RunId | None = None
    staging_run_id: RunId | None = None
    requested_by: Name
    gates: list[GateIn] = Field(default_factory=list, max_length=50)
    links: dict[str, Annotated[str, StringConstraints(max_length=2000)]] = Field(
        default_factory=dict
    )
    promotion: PromotionIn = Field(default_factory=PromotionIn)

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_as_text(cls, v: Any) -> Any:
        # Pipelines often send the registry's version as a number.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


# -- declarative config ------------------------------------------------------


class PersonIn(Strict):
    slack: Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,}$")] | None = None
    telegram: int | None = Field(default=None, gt=0)
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class GroupSpec(Strict):
    members: list[Name] = Field(default_factory=list)
    slack_usergroup: Annotated[str, StringConstraints(pattern=r"^S[A-Z0-9]+$")] | None = None


class RuleIn(Strict):
    group: Name
    min_approvals: int = Field(default=1, ge=1, le=50)


class PolicyIn(Strict):
    model: Name
    rules: list[RuleIn] = Field(min_length=1)
    deadline: str = "48h"
    remind_every: str | None = "12h"
    escalate_after: str | None = None
    escalate_to: Name | None = None
    on_expiry: Literal["archive", "reject", "keep"] = "archive"
    allow_self_approval: bool = False
    allow_override_failed_gates: bool = False
    reject_reason_required: bool = True


class ConfigIn(Strict):
    people: dict[Name, PersonIn] = Field(default_factory=dict)
    groups: dict[Name, list[Name] | GroupSpec] = Field(default_factory=dict)
    policies: list[PolicyIn] = Field(default_factory=list)
