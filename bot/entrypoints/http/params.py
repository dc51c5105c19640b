"""Query and path parameter types. Enums are built from the names the domain owns, text
follows the domain's text rules, and the OpenAPI schema says exactly what is accepted: an
optional parameter is left out, never ``null`` (``SkipJsonSchema``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Path, Query
from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

from bot.domain import text
from bot.domain.model import DECISION_FILTERS, State
from bot.domain.names import OutboxState
from bot.service.cursor import CURSOR_PATTERN

if TYPE_CHECKING:
    StateParam = str
    DecisionParam = str
    OutboxStateParam = str
else:
    StateParam = Literal[tuple(s.value for s in State)]
    DecisionParam = Literal[tuple(s.value for s in DECISION_FILTERS)]
    OutboxStateParam = Literal[tuple(s.value for s in OutboxState)]

StateQuery = Annotated[StateParam | SkipJsonSchema[None], Query()]
DecisionQuery = Annotated[DecisionParam | SkipJsonSchema[None], Query()]
OutboxStateQuery = Annotated[OutboxStateParam | SkipJsonSchema[None], Query()]
# RFC 3339 date-times with a zone (parsed and checked by ``deps.aware``).
TimeQuery = Annotated[
    Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
    | SkipJsonSchema[None],
    Query(description="RFC 3339, with a zone: 2026-01-05T00:00:00Z"),
]
CursorQuery = Annotated[
    Annotated[str, StringConstraints(max_length=40, pattern=CURSOR_PATTERN)] | SkipJsonSchema[None],
    Query(description="`next_cursor` of the previous page"),
]
# Text in query strings: no control characters (nothing stored has them). The constraints
# sit on the inner type: on the union, pydantic drops the pattern from the schema.
# Request ids are letters and digits: anything else is no request (404; 422 for the schema).
RequestIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ModelQuery = Annotated[
    Annotated[str, StringConstraints(max_length=200, pattern=text.NAME_PATTERN)]
    | SkipJsonSchema[None],
    Query(),
]
ApproverQuery = Annotated[
    Annotated[str, StringConstraints(max_length=100, pattern=text.NAME_PATTERN)]
    | SkipJsonSchema[None],
    Query(),
]
