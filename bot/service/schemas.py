"""Validation of what comes from outside: submissions and declarative config.

pydantic turns a bad body into errors with the field's path; ``field_errors``
renders them as ``path: problem`` lines.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import WithJsonSchema

from bot.domain import errors, evidence, images, text
from bot.domain.gates import GATE_OPS, disagreement
from bot.domain.policy import DEFAULT_CANARY_DWELL_SECONDS, DEFAULT_CANARY_STEPS
from bot.service.cursor import CURSOR_PATTERN

# Text is checked as sent, then stripped of surrounding spaces: a tab or a line break is
# refused wherever it is, as the schema's pattern says.
_stripped = AfterValidator(str.strip)
# Names (models, people, groups, gates): one line, no bidi overrides, not blank. Lengths
# are those of the database columns (README.md, "HTTP API" lists them).
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=text.NAME_PATTERN), _stripped
]
MAX_PERSON_NAME = 100
PersonName = Annotated[  # people and groups (service/config_names.py: the TR39 rules)
    str,
    StringConstraints(min_length=1, max_length=MAX_PERSON_NAME, pattern=text.NAME_PATTERN),
    _stripped,
]
ShortName = Annotated[  # a model version, a link's name
    str, StringConstraints(min_length=1, max_length=64, pattern=text.NAME_PATTERN), _stripped
]
# Run ids: one line. The staging run's is the submission's identity with the model version,
# so it is not blank (leave it out instead); the others may be "" (the registry had none).
RunId = Annotated[str, StringConstraints(max_length=64, pattern=text.LINE_PATTERN), _stripped]
StagingRunId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=text.WORD_PATTERN), _stripped
]
# A link: one line, may be empty (the pipeline sends "" for a UI it does not know).
Url = Annotated[str, StringConstraints(max_length=2000, pattern=text.LINE_PATTERN), _stripped]
MAX_LINKS = 20
MAX_PARAMETERS = 50

_PATTERNS = {text.NAME_PATTERN: True, text.LINE_PATTERN: False, text.WORD_PATTERN: False}


def _shown(part: str) -> str:
    """A path part as it can be shown (a key may hold the very character refused)."""
    return "".join(f"\\x{ord(c):02x}" if c in text.CONTROL else c for c in part)


# pydantic's names for union members: not the field's path.
_UNION_MEMBER = re.compile(r"^[\w-]+\[.*\]$|^constrained-\w+$")


def loc_path(loc: Sequence[int | str]) -> str:
    """A field's path as a person reads it: ``gates[0].value``, ``links(key)``."""
    out = ""
    for part in loc:
        if isinstance(part, str) and _UNION_MEMBER.match(part):
            continue
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
    pattern = str((err.get("ctx") or {}).get("pattern"))
    if kind == "string_pattern_mismatch" and pattern == CURSOR_PATTERN:
        return "not a valid cursor (pass next_cursor back as it came)"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_too_short" and (err.get("ctx") or {}).get("min_length") == 1:
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        name = _PATTERNS.get(pattern)
        value = err.get("input")
        if name is not None and isinstance(value, str):
            return text.blank_or_problem(value, name=name)
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


MAX_NUMERIC_VERSION = 2**53 - 1  # a model_version sent as a number (exact as a float too)
NAME_PATTERN = text.NAME_PATTERN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigModel(BaseModel):
    """The declarative config (YAML written by people): surrounding spaces are forgiven."""

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
    passed: Annotated[
        bool | None,
        WithJsonSchema(
            {
                "type": "boolean",
                "readOnly": True,
                "description": "Computed by the bot. May be sent, but must agree with "
                "`value op threshold` (422 otherwise).",
            }
        ),
    ] = None

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


# The promotion pipeline's parameters: KFP parameter names, scalar values.
ParamName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
ParamText = Annotated[str, StringConstraints(max_length=2000, pattern=text.LINE_PATTERN)]
ParamValue = ParamText | StrictBool | StrictInt | StrictFloat


class PromotionIn(Strict):
    """Extra parameters for the promotion pipeline (the approved model's are fixed)."""

    parameters: Annotated[
        dict[ParamName, ParamValue],
        Field(max_length=MAX_PARAMETERS),
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": MAX_PARAMETERS,
                "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": 2000, "pattern": text.LINE_PATTERN},
                        {"type": "number"},
                        {"type": "boolean"},
                    ]
                },
            }
        ),
    ] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, value in v.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name}: must be a finite number")
        return v


def _base64_image(v: Any) -> bytes:
    """The picture's bytes: base64 (RFC 4648, with padding, no line breaks), at most
    ``images.MAX_BYTES`` once decoded. What the bytes are is checked by the service."""
    if not isinstance(v, str):
        raise ValueError("must be a string of base64")
    if len(v) > IMAGE_BASE64_CHARS:
        raise ValueError(f"more than {images.MAX_BYTES} bytes once decoded")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64 (RFC 4648, with padding, no line breaks)") from None


IMAGE_BASE64_CHARS = 4 * -(-images.MAX_BYTES // 3)
EVIDENCE_FORMAT = "image-base64"  # a PNG or JPEG in base64 (tests/support/schemathesis_hooks.py)
ImageData = Annotated[
    bytes,
    BeforeValidator(_base64_image),
    WithJsonSchema(
        {
            "type": "string",
            "format": EVIDENCE_FORMAT,
            "contentEncoding": "base64",
            "maxLength": IMAGE_BASE64_CHARS,
            "description": f"A PNG or JPEG image, base64: at most {images.MAX_BYTES} bytes, "
            f"each side at most {images.MAX_SIDE} pixels, at most {images.MAX_PIXELS} "
            "pixels. Recognised by its bytes; checked whole (a truncated or corrupt file "
            "is refused) and by its header before it is inflated (422 naming the problem).",
        }
    ),
]
AltText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=evidence.MAX_ALT, pattern=text.LINE_PATTERN),
    _stripped,
]


class EvidenceIn(Strict):
    """A picture the approvers see with the request (README.md, "Evidence")."""

    data: ImageData
    alt: Annotated[AltText, Field(description="One sentence that states the numbers shown")]


class SubmissionIn(Strict):
    model_name: Name
    model_version: Annotated[
        ShortName,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN},
                    {"type": "integer", "minimum": 0, "maximum": MAX_NUMERIC_VERSION},
                ]
            }
        ),
    ]
    challenger_run_id: RunId | None = None
    data_run_id: RunId | None = None
    staging_run_id: StagingRunId | None = None
    requested_by: Name
    gates: list[GateIn] = Field(default_factory=list, max_length=50)
    links: Annotated[
        dict[ShortName, Url],
        Field(max_length=MAX_LINKS),
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": MAX_LINKS,
                "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN},
                "additionalProperties": {
                    "type": "string",
                    "maxLength": 2000,
                    "pattern": text.LINE_PATTERN,
                },
            }
        ),
    ] = Field(default_factory=dict)
    promotion: PromotionIn = Field(default_factory=PromotionIn)
    evidence: list[EvidenceIn] = Field(
        default_factory=list,
        max_length=evidence.MAX_PICTURES,
        description=f"At most {evidence.MAX_PICTURES} pictures, at most "
        f"{evidence.MAX_TOTAL_PIXELS} pixels together; stored with the request, their "
        "SHA-256 in its `submitted` audit event. One bad picture refuses the submission.",
    )

    @field_validator("model_version", mode="before")
    @classmethod
    def _version_as_text(cls, v: Any) -> Any:
        # Pipelines often send the registry's version as a number.
        if isinstance(v, float) and v.is_integer():
            v = int(v)  # 1e+18 is an integer in JSON
        numeric = isinstance(v, int) and not isinstance(v, bool)
        return str(v) if numeric and 0 <= v <= MAX_NUMERIC_VERSION else v


# -- declarative config ------------------------------------------------------


# A person's identities, by the kinds the channels declare (checked in ``config.py``).
IdentityValue = Annotated[str, StringConstraints(max_length=320)] | StrictInt
PeopleIn = dict[PersonName, dict[str, IdentityValue]]


class GroupSpec(ConfigModel):
    """A group's members, and where else they come from (the keys channels declare, e.g.
    a chat's user groups; checked in ``config.py``)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    members: list[PersonName] = Field(default_factory=list)


class RuleIn(ConfigModel):
    group: PersonName
    min_approvals: int = Field(default=1, ge=1, le=50)


class CanaryIn(ConfigModel):
    """A policy's canary (checked by ``CanarySpec.of``; docs/kserve.md, "Canary")."""

    steps: list[StrictInt] = Field(
        default_factory=lambda: list(DEFAULT_CANARY_STEPS), max_length=100
    )
    dwell_seconds: StrictInt = DEFAULT_CANARY_DWELL_SECONDS


class PolicyIn(ConfigModel):
    model: Name
    rules: list[RuleIn] = Field(min_length=1)
    deadline: str = "48h"
    remind_every: str | None = "12h"
    escalate_after: str | None = None
    escalate_to: PersonName | None = None
    on_expiry: Literal["archive", "reject", "keep"] = "archive"
    allow_self_approval: bool = False
    allow_override_failed_gates: bool = False
    reject_reason_required: bool = True
    auto_approve_after: str | None = None  # the veto window (bot/domain/window.py)
    # who is authorized like a rollback (a canary's, docs/kserve.md; the watch's, docs/watch.md);
    # empty: the approver groups
    rollback_groups: list[PersonName] = Field(default_factory=list)
    # promote with a canary (needs APPROVAL_BOT_PROMETHEUS_URL); none: as the target says
    canary: CanaryIn | None = None


class ConfigIn(ConfigModel):
    people: PeopleIn = Field(default_factory=dict)
    groups: dict[PersonName, list[PersonName] | GroupSpec] = Field(default_factory=dict)
    policies: list[PolicyIn] = Field(default_factory=list)
