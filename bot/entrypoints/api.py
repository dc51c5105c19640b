"""The HTTP API for pipelines and operators (DESIGN §4), plus health and metrics.

Endpoints are plain ``def``: FastAPI runs them in its worker threads, so the
blocking database calls never run on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.domain import errors
from bot.ports import RequestFilter
from bot.service.logctx import bind_request
from bot.service.schemas import SubmissionIn, loc_path
from bot.service.views import request_to_dict

log = logging.getLogger("bot.api")
MAX_BODY = 64 * 1024
bearer = HTTPBearer(auto_error=False, description="An API token (`approval-bot token create`)")

StateParam = Literal[
    "pending",
    "approved",
    "rejected",
    "expired",
    "superseded",
    "cancelled",
    "promoting",
    "promoted",
    "promotion_failed",
]
DecisionParam = Literal["pending", "approved", "rejected", "expired", "superseded", "cancelled"]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


class BodyLimit:
    """413 for a body over ``limit`` bytes, declared or streamed, before anything parses it.

    Bodies here are small (the API, Slack and Telegram callbacks), so the body is
    buffered up to the limit and then replayed to the app.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            error_body("payload_too_large", f"request body is larger than {self.limit} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def encode_cursor(created_at: datetime, request_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, rid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(rid, str):
            raise ValueError
        return when, rid
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise HTTPException(
            422,
            error_body(
                "validation_error",
                "cursor: not a valid cursor",
                fields=[{"path": "cursor", "message": "not a valid cursor"}],
            ),
        ) from None


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(
            422,
            error_body(
                "validation_error",
                f"{name}: give a time zone, e.g. 2026-01-05T00:00:00Z",
                fields=[{"path": name, "message": "time zone required"}],
            ),
        )
    return value


def create_app(container: Any, *, lifespan: Any = None) -> FastAPI:
    svc = container.service
    settings = container.settings
    bootstrap_token = settings.api_token.get_secret_value() if settings.api_token else None

    app = FastAPI(
        title="approval-bot",
        version="1",
        description="Human approval gate for ML model promotion.",
        lifespan=lifespan,
    )
    app.state.container = container

    def authorize(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        unauthorized = HTTPException(
            401,
            error_body("unauthorized", "a valid Bearer token is required"),
            headers={"WWW-Authenticate": "Bearer"},
        )
        if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
            raise unauthorized
        token = creds.credentials
        if bootstrap_token and hmac.compare_digest(token.encode(), bootstrap_token.encode()):
            return "bootstrap"
        name = svc.authenticate(token)
        if name is None:
            raise unauthorized
        return str(name)

    auth = Depends(authorize)

    @app.exception_handler(RequestValidationError)
    async def _validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors():
            loc = [p for p in err.get("loc", ()) if p not in ("body",)]
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "missing":
                msg = "required field is missing"
            elif err.get("type") == "extra_forbidden":
                msg = "unknown field"
            fields.append({"path": loc_path(loc), "message": msg})
        message = "; ".join(f"{f['path']}: {f['message']}" for f in fields) or "invalid request"
        return JSONResponse(error_body("validation_error", message, fields=fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        body = (
            exc.detail
            if isinstance(exc.detail, dict)
            else error_body("http_error", str(exc.detail))
        )
        return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(errors.DomainError)
    async def _domain(_req: Request, exc: errors.DomainError) -> JSONResponse:
        status = (
            404
            if isinstance(exc, errors.NotFound)
            else (409 if isinstance(exc, errors.Refused) else 422)
        )
        return JSONResponse(error_body(exc.code, exc.message), status)

    api = APIRouter(prefix="/api/v1")

    @api.post(
        "/approvals",
        status_code=201,
        summary="Submit a challenger for approval",
        responses={
            200: {"description": "Already submitted: the existing request"},
            401: {},
            413: {},
            422: {},
        },
    )
    def submit(body: SubmissionIn, response: Response, _who: str = auth) -> dict[str, Any]:
        result = svc.submit(body)
        with bind_request(result.request.id):
            if result.created:
                log.info(
                    "submitted %s v%s (requested by %s)",
                    body.model_name,
                    body.model_version,
                    body.requested_by,
                )
                container.kick()
            else:
                response.status_code = 200
                log.info("already submitted: %s v%s", body.model_name, body.model_version)
            return request_to_dict(result.request, result.policy)

    @api.get("/approvals", summary="List requests (cursor pagination)")
    def list_approvals(
        _who: str = auth,
        state: StateParam | None = None,
        model: Annotated[str | None, Query(max_length=200)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> dict[str, Any]:
        flt = RequestFilter(
            state=state,
            model=model,
            since=_aware(since, "since"),
            until=_aware(until, "until"),
            limit=limit + 1,
            after_id=decode_cursor(cursor) if cursor else None,
        )
        return _page(svc.search(flt), limit, history=False)

    def _page(found: list[Any], limit: int, *, history: bool) -> dict[str, Any]:
        more = len(found) > limit
        items = found[:limit]
        hist = svc.history(items) if history else {}
        return {
            "items": [
                request_to_dict(r, history=hist.get(r.id) if history else None) for r in items
            ],
            "next_cursor": encode_cursor(items[-1].created_at, items[-1].id) if more else None,
        }

    @api.get(
        "/approvals/{request_id}",
        summary="One request, with quorum and history",
        responses={404: {}},
    )
    def get_approval(request_id: str, _who: str = auth) -> dict[str, Any]:
        with bind_request(request_id):
            request, policy = svc.get_with_policy(request_id)
            return request_to_dict(request, policy, svc.history([request])[request.id])

    @api.get("/audit", summary="Decisions with their history (who approved what, when, why)")
    def audit(
        _who: str = auth,
        model: Annotated[str | None, Query(max_length=200)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        decision: DecisionParam | None = None,
        approver: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> dict[str, Any]:
        flt = RequestFilter(
            model=model,
            since=_aware(since, "since"),
            until=_aware(until, "until"),
            approver=approver,
            decision=decision,
            limit=limit + 1,
            after_id=decode_cursor(cursor) if cursor else None,
        )
        return _page(svc.search(flt), limit, history=True)

    @api.get("/outbox", summary="Effects and their delivery state")
    def outbox(
        _who: str = auth,
        state: Literal["pending", "delivering", "delivered", "dead"] | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        with svc.uow() as uow:
            items = uow.outbox.items(state=state, limit=limit)
        return {"items": [outbox_item_dict(i) for i in items]}

    @api.post(
        "/outbox/{item_id}/retry", summary="Retry a dead-lettered effect", responses={404: {}}
    )
    def retry(
        item_id: Annotated[int, Path(ge=1, le=2**63 - 1)], _who: str = auth
    ) -> dict[str, Any]:
        if not container.dispatcher.retry_item(item_id):
            raise HTTPException(
                404, error_body("not_found", f"no dead or pending outbox item {item_id}")
            )
        container.kick()
        return {"retried": item_id}

    app.include_router(api)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Database reachable and at the migration head", responses={503: {}})
    def readyz() -> JSONResponse:
        problem = container.readiness_problem()
        if problem:
            return JSONResponse({"status": "not ready", "reason": problem}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(container.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    for mount in container.mounts:
        mount(app)

    app.add_middleware(BodyLimit, limit=MAX_BODY)
    return app


def outbox_item_dict(i: Any) -> dict[str, Any]:
    return {
        "id": i.id,
        "kind": i.kind,
        "key": i.key,
        "request_id": i.request_id,
        "state": i.state,
        "attempts": i.attempts,
        "next_attempt_at": i.next_attempt_at.isoformat() if i.next_attempt_at else None,
        "last_error": i.last_error,
        "created_at": i.created_at.isoformat(),
        "delivered_at": i.delivered_at.isoformat() if i.delivered_at else None,
        "payload": i.payload,
    }
