"""``/api/v1/outbox``: effects, their delivery state, and retrying dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from bot.domain.names import Channel, OutboxState
from bot.entrypoints.http.deps import (
    API_CHECKS,
    Administrator,
    ContainerDep,
    Reader,
    ServicesDep,
)
from bot.entrypoints.http.errors import API_ERRORS, documented, error_body
from bot.entrypoints.http.params import OutboxStateQuery
from bot.service.views import outbox_item_to_dict

router = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=API_CHECKS)


@router.get("/outbox", summary="Effects and their delivery state")
def outbox(
    services: ServicesDep,
    _who: Reader,
    state: OutboxStateQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    items = services.queries.outbox_items(OutboxState(state) if state else None, limit)
    return {"items": [outbox_item_to_dict(i) for i in items]}


@router.post(
    "/outbox/{item_id}/retry", summary="Retry a dead-lettered effect", responses=documented(404)
)
def retry(
    item_id: Annotated[int, Path(ge=1, le=2**63 - 1)], wired: ContainerDep, token: Administrator
) -> dict[str, Any]:
    if not wired.dispatcher.retry_item(item_id, actor=Channel.API, token=token):
        raise HTTPException(
            404, error_body("not_found", f"no dead, waiting or pending outbox item {item_id}")
        )
    wired.kick()
    return {"retried": item_id}
