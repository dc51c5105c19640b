"""``/api/v1/divergences``: what the registry ↔ serving watch saw differ (docs/watch.md).

A "Deploy the champion" run's guard reads ``GET /api/v1/divergences/{id}`` instead of an
approval: it serves only while the divergence is open and someone asked for that deploy.
Reading needs the ``read`` scope (the pipelines' token has it).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bot.domain.divergence import Divergence
from bot.entrypoints.http.deps import API_CHECKS, Reader, ServicesDep
from bot.entrypoints.http.errors import API_ERRORS, documented
from bot.entrypoints.http.params import RequestIdPath

router = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=API_CHECKS)


def divergence_out(d: Divergence) -> dict[str, Any]:
    return {
        **d.summary(),
        "open": d.is_open,
        "asked": d.asked,
        "detected_at": d.detected_at.isoformat(),
        "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
        "resolution": d.resolution,
    }


@router.get(
    "/divergences",
    summary="The divergences of serving and the registry that are not resolved yet",
)
def list_divergences(services: ServicesDep, _who: Reader) -> dict[str, Any]:
    return {"items": [divergence_out(d) for d in services.queries.open_divergences()]}


@router.get(
    "/divergences/{divergence_id}",
    summary="One divergence (read by a Deploy-the-champion run's guard)",
    responses=documented(404),
)
def get_divergence(
    divergence_id: RequestIdPath, services: ServicesDep, _who: Reader
) -> dict[str, Any]:
    return divergence_out(services.watch.view(divergence_id))
