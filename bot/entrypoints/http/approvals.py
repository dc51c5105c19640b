"""``/api/v1/approvals``: what the staging pipeline submits and the promotion pipeline checks."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from bot.domain.evidence import MAX_PICTURES, EvidenceInfo
from bot.domain.model import State
from bot.entrypoints.http.deps import (
    API_CHECKS,
    ContainerDep,
    Reader,
    ServicesDep,
    Submitter,
    aware,
)
from bot.entrypoints.http.errors import API_ERRORS, documented
from bot.entrypoints.http.pagination import after, page
from bot.entrypoints.http.params import (
    CursorQuery,
    ModelQuery,
    RequestIdPath,
    StateQuery,
    TimeQuery,
)
from bot.ports.store import RequestFilter
from bot.service.logctx import bind_request
from bot.service.schemas import SubmissionIn
from bot.service.views import request_to_dict

log = logging.getLogger("bot.api")
router = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=API_CHECKS)


@router.post(
    "/approvals",
    status_code=201,
    summary="Submit a challenger for approval",
    responses={
        200: {"description": "Already submitted: the existing request"},
        **documented(413),
    },
)
def submit(
    body: SubmissionIn, response: Response, wired: ContainerDep, token: Submitter
) -> dict[str, Any]:
    result = wired.services.commands.submit(body, token=token)
    with bind_request(result.request.id):
        if result.created:
            log.info(
                "submitted %s v%s (requested by %s, token %s)",
                body.model_name,
                body.model_version,
                body.requested_by,
                token.name,
            )
        else:
            response.status_code = 200
            log.info("already submitted: %s v%s", body.model_name, body.model_version)
        out = request_to_dict(result.request, result.policy)
        out["evidence"] = evidence_list(wired.services.queries.evidence(result.request.id))
        return out


@router.get("/approvals", summary="List requests (cursor pagination)")
def list_approvals(
    services: ServicesDep,
    _who: Reader,
    state: StateQuery = None,
    model: ModelQuery = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> dict[str, Any]:
    flt = RequestFilter(
        state=State(state) if state else None,
        model=model,
        since=aware(since, "since"),
        until=aware(until, "until"),
        limit=limit + 1,
        after_id=after(cursor),
    )
    return page(services.queries, services.queries.search(flt), limit, history=False)


@router.get(
    "/approvals/{request_id}",
    summary="One request, with quorum and history",
    responses=documented(404),
)
def get_approval(request_id: RequestIdPath, services: ServicesDep, _who: Reader) -> dict[str, Any]:
    with bind_request(request_id):
        queries = services.queries
        request, policy = queries.get_with_policy(request_id)
        history = queries.history([request])[request.id]
        effects = queries.effects([request])[request.id]
        newer = queries.newer_approval(request)
        out = request_to_dict(request, policy, history, effects, newer_approval=newer)
        out["evidence"] = evidence_list(queries.evidence(request.id))
        return out


def evidence_list(found: list[EvidenceInfo]) -> list[dict[str, Any]]:
    return [i.to_dict() for i in found]


@router.get(
    "/approvals/{request_id}/evidence/{index}",
    summary="One of the request's evidence pictures (PNG or JPEG)",
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}}, "description": "The picture"},
        **documented(404),
    },
    response_class=Response,
)
def get_evidence(
    request_id: RequestIdPath,
    index: Annotated[int, Path(ge=0, lt=MAX_PICTURES)],
    services: ServicesDep,
    _who: Reader,
) -> Response:
    found = services.queries.picture(request_id, index)
    return Response(
        found.data,
        media_type=found.info.media_type,
        headers={"ETag": f'"{found.info.sha256}"', "X-Content-Type-Options": "nosniff"},
    )
