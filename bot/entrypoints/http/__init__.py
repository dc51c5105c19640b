"""The HTTP side of the one ASGI app: the API for pipelines and operators, health and
metrics, and what the channels mount (the console's pages, the chats' callbacks).

Routes are plain ``def`` where they touch the database: FastAPI runs them in its worker
threads, so blocking calls never run on the event loop. The API is documented in README.md
("HTTP API") and at ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bot.bootstrap import Container
from bot.entrypoints.http import (
    approvals,
    audit,
    divergences,
    docs,
    errors,
    health,
    outbox,
    rollouts,
)
from bot.entrypoints.http.limits import MAX_BODY, MAX_SUBMISSION, BodyLimit


def create_app(container: Container, *, lifespan: Any = None) -> FastAPI:
    app = FastAPI(
        title="approval-bot",
        version="1",
        description="Human approval gate for ML model promotion.",
        lifespan=lifespan,
        docs_url=None,  # served by docs.install, without a CDN
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)
    for area in (approvals, rollouts, divergences, audit, outbox, health):
        app.include_router(area.router)
    docs.install(app, enabled=container.settings.api_docs)
    for mount in container.mounts:
        mount(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY, larger={"/api/v1/approvals": MAX_SUBMISSION})
    return app
