"""Query parameter types built from the names the domain owns (the OpenAPI enums follow)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

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
