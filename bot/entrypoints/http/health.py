"""Health, readiness and Prometheus metrics (no token: probes and scrapers call them)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.entrypoints.http.deps import ContainerDep

router = APIRouter()


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Database reachable and at this release's migration head or a newer one",
    responses={503: {}},
)
def readyz(wired: ContainerDep) -> JSONResponse:
    problem = wired.readiness_problem()
    if problem:
        return JSONResponse({"status": "not ready", "reason": problem}, 503)
    warnings = wired.warnings()  # ready, with something to fix (a stale chat id)
    return JSONResponse({"status": "ready", **({"warnings": warnings} if warnings else {})})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(wired: ContainerDep) -> Response:
    return Response(generate_latest(wired.metrics.registry), media_type=CONTENT_TYPE_LATEST)
