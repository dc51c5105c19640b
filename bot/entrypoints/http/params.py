"""Query parameter types built from the names the domain owns (the OpenAPI enums follow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Path, Query

from bot.domain import text
from bot.domain.model import DECISION_FILTERS, State
from bot.domain.names import OutboxState

if TYPE_CHECKING:
    StateParam = str
    DecisionParam = str
    OutboxStateParam = str
else:
    StateParam = Literal[tuple(s.value for s in State)]
    DecisionParam = Literal[tuple(s.value for s in DECISION_FILTERS)]
    OutboxStateParam = Literal[tuple(s.value for s in OutboxState)]

# Text in paths and query strings: no control characters (nothing stored has them), and the
# schema says so, so that clients and fuzzers know what a valid value is.
RequestIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=text.LINE_PATTERN)]
ModelQuery = Annotated[str | None, Query(max_length=200, pattern=text.NAME_PATTERN)]
ApproverQuery = Annotated[str | None, Query(max_length=100, pattern=text.NAME_PATTERN)]
