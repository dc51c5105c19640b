"""``/api/v1/approvals/{id}/rollout``: how a canary promotion and the bot talk.

The promotion run polls ``GET`` for the signal people gave in chat (``run``, ``pause``,
``rollback``, ``promote_now``) and reports each step with ``PUT`` (docs/kserve.md, "Canary";
pipelines/steps/control.py). Reading needs the ``read`` scope, reporting ``submit`` (the
pipelines' token has both).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from bot.entrypoints.http.deps import API_CHECKS, Reader, ServicesDep, Submitter
from bot.entrypoints.http.errors import API_ERRORS, documented
from bot.entrypoints.http.params import RequestIdPath
from bot.service.logctx import bind_request

router = APIRouter(prefix="/api/v1", responses=API_ERRORS, dependencies=API_CHECKS)


class ProgressIn(BaseModel):
    """One canary step as the promotion reports it (extra keys are dropped)."""

    model_config = ConfigDict(extra="ignore")

    phase: str = Field(max_length=40)
    step: int | None = Field(default=None, ge=0, le=100)
    steps: list[int] = Field(default_factory=list, max_length=20)
    canary_revision: str | None = Field(default=None, max_length=200)
    previous_revision: str | None = Field(default=None, max_length=200)
    traffic: dict[str, int] = Field(default_factory=dict, max_length=10)
    analysis: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    passed: bool | None = None
    by: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=2000)
    restored: str | None = Field(default=None, max_length=2000)


@router.get(
    "/approvals/{request_id}/rollout",
    summary="A canary's control signal (polled by the promotion)",
    responses=documented(404),
)
def get_rollout(request_id: RequestIdPath, services: ServicesDep, _who: Reader) -> dict[str, Any]:
    with bind_request(request_id):
        return dataclasses.asdict(services.rollouts.view(request_id))


@router.put(
    "/approvals/{request_id}/rollout",
    summary="Report a canary step (shown in the request's messages)",
    responses=documented(404, 409),
)
def put_rollout(
    request_id: RequestIdPath, body: ProgressIn, services: ServicesDep, _who: Submitter
) -> dict[str, Any]:
    with bind_request(request_id):
        progress = body.model_dump(exclude_none=True)
        return dataclasses.asdict(services.rollouts.report(request_id, progress))
