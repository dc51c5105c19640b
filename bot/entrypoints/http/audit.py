"""``/api/v1/audit``: decisions with their history (who approved what, when and why)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from bot.domain.model import State
from bot.entrypoints.http.deps import API_CHECKS, Reader, ServicesDep, aware
from bot.entrypoints.http.errors import API_ERRORS
from bot.entrypoints.http.pagination import after, page
from bot.entrypoints.http.params import (
    ApproverQuery,
    CursorQuery,
    DecisionQuery,
    ModelQuery,
    TimeQuery,
)
from bot.ports.store import RequestFilter

router = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=API_CHECKS)


@router.get("/audit", summary="Decisions with their history (who approved what, when, why)")
def audit(
    services: ServicesDep,
    _who: Reader,
    model: ModelQuery = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    decision: DecisionQuery = None,
    approver: ApproverQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    flt = RequestFilter(
        model=model,
        since=aware(since, "since"),
        until=aware(until, "until"),
        approver=approver,
        decision=State(decision) if decision else None,
        limit=limit + 1,
        after_id=after(cursor),
    )
    return page(services.queries, services.queries.search(flt), limit, history=True)
