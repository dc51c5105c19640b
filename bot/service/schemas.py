"""Validation of what comes from outside: submissions and declarative config.

pydantic turns a bad body into errors with the field's path; ``field_errors``
renders them as ``path: problem`` lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain import errors, text
from bot.domain.gates import GATE_OPS, disagreement

# Names (models, people, groups, gates): one line, no bidi overrides.
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=text.NAME_PATTERN
    ),
]
# Other one-line text (run ids, URLs): no control characters.
Line = Annotated[str, StringConstraints(strip_whitespace=True, pattern=text.LINE_PATTERN)]
RunId = Annotated[Line, StringConstraints(max_length=128)]

_PATTERNS = {text.NAME_PATTERN: {"name": True}, text.LINE_PATTERN: {}}


def _shown(part: str) -> str:
    """A path part as it can be shown (a key may hold the very character refused)."""
    return "".join(f"\\x{ord(c):02x}" if c in text.CONTROL else c for c in part)


def loc_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += "(key)"
        else:
            out += f".{_shown(part)}" if out else _shown(part)
    return out or "(body)"


def error_message(err: Mapping[str, Any]) -> str:
    """One pydantic error as a person reads it (the text rules name the character)."""
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str((err.get("ctx") or {}).get("pattern")))
        value = err.get("input")
        if rule is not None and isinstance(value, str):
            return text.problem(value, **rule) or str(err.get("msg"))
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def field_errors(exc: ValidationError) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if p not in ("function-after", "list[str]", "GroupSpec")]
        msg = "unknown key" if err["type"] == "extra_forbidden" else error_message(err)
        lines.append(f"{loc_path(loc)}: {msg}")
    return lines


def plain_or_unknown(request_id: str) -> str:
    """A request id as it can be looked up; ``UnknownRequest`` when it cannot be one (the
    same answer as for an id that does not exist, without asking the database)."""
    if not text.is_plain(request_id) or len(request_id) > 64:
        raise errors.UnknownRequest(request_id)
    return request_id


def checked_filter(field: str, value: str | None) -> str | None:
    """A text filter (model, approver) with a clear error instead of a database error."""
    if value is not None and (problem := text.problem(value)):
        raise errors.InvalidRequest(f"{field}: {problem}")
    return value


def free_values(value: Any, path: str = "", depth: int = 0) -> str | None:
    """What is wrong with free-form JSON (keys and strings), or None."""
    if depth > MAX_DEPTH:
        return f"{path or '(value)'}: nested more than {MAX_DEPTH} levels"
    if isinstance(value, str):
        problem = text.problem(value, multiline=True)
        return f"{path}: {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{_shown(str(key))}" if path else _shown(str(key))
            if problem := text.problem(str(key)):
                return f"{where} (key): {problem}"
            if problem := free_values(item, where, depth + 1):
                return problem
    if isinstance(value, list):
        for i, item in enumerate(value):
            if problem := free_values(item, f"{path}[{i}]", depth + 1):
                return problem
    return None


MAX_DEPTH = 8  # how deep free-form JSON (promotion parameters) may nest


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
    """Passed through to the promotion pipeline: free-form, but no control characters."""

    model_config = ConfigDict(extra="allow")
    parameters: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _plain(self) -> PromotionIn:
        if problem := free_values(self.model_dump()):
            raise ValueError(problem)
        return self


class SubmissionIn(Strict):
    model_name: Name
    model_version: Annotated[Name, StringConstraints(max_length=64)]
    challenger_run_id: RunId | None = None
    data_run_id: RunId | None = None
    staging_run_id: RunId | None = None
    requested_by: Name
    gates: list[GateIn] = Field(default_factory=list, max_length=50)
    links: dict[
        Annotated[Name, StringConstraints(max_length=64)],
        Annotated[Line, StringConstraints(max_length=2000)],
    ] = Field(default_factory=dict)
    promotion: PromotionIn = Field(default_factory=PromotionIn)

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_as_text(cls, v: Any) -> Any:
        # Pipelines often send the registry's version as a number.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


# -- declarative config ------------------------------------------------------


_EMAIL = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$"


class PersonIn(Strict):
    slack: Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]{2,}$")] | None = None
    telegram: int | None = Field(default=None, gt=0)
    email: Annotated[str, StringConstraints(pattern=_EMAIL)] | None = None


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
