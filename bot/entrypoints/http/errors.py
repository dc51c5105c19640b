"""One JSON error shape for every failure: ``{"error", "message", "fields"?}``."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from bot.domain import errors
from bot.ports.store import StoreUnavailable
from bot.service.schemas import error_message, loc_path


class FieldProblem(BaseModel):
    path: str
    message: str


class Error(BaseModel):
    """Every error the API answers: a code, one line for a person, and the bad fields."""

    error: str = Field(examples=["validation_error"])
    message: str = Field(examples=["model_version: required field is missing"])
    fields: list[FieldProblem] | None = None


_WHAT = {
    400: "A malformed HTTP request, refused by the server before the API reads it",
    401: "No token, or not a valid one (unknown, revoked or expired)",
    403: "The token lacks the scope this route needs, or may not submit as `requested_by`",
    404: "No such request, outbox item or divergence",
    409: "A vote the rules refuse",
    413: "Body over 64 KiB",
    422: "A bad field, parameter or body, named in `fields`",
    503: "The database is unreachable; retry after `Retry-After` seconds",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: these error statuses, each with the ``Error`` shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        if status == 400:  # plain text from the HTTP server itself, not this JSON shape
            out[status] = {"description": _WHAT[status]}
            continue
        out[status] = {"model": Error, "description": _WHAT[status]}
        if status == 503:
            out[status]["headers"] = {
                "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}
            }
    return out


# Every API route: a malformed request, the token and its scope, bad input, the database.
API_ERRORS = documented(400, 401, 403, 422, 503)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


def invalid(path: str, message: str, *, summary: str | None = None) -> HTTPException:
    """A 422 naming one bad field (for checks FastAPI's own validation cannot make)."""
    return HTTPException(
        422,
        error_body(
            "validation_error",
            summary or f"{path}: {message}",
            fields=[{"path": path, "message": message}],
        ),
    )


def unprocessable(fields: list[dict[str, str]]) -> dict[str, Any]:
    """The 422 body naming each bad field."""
    message = "; ".join(f"{f['path']}: {f['message']}" for f in fields) or "invalid request"
    return error_body("validation_error", message, fields=fields)


LOCATIONS = frozenset({"query", "path", "header", "cookie", "body"})


async def on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
    fields = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            at = err.get("loc", ("body", 0))[-1]
            problem = (err.get("ctx") or {}).get("error", "JSON decode error")
            fields.append({"path": "(body)", "message": f"not valid JSON: {problem} at {at}"})
            continue
        loc = list(err.get("loc", ()))
        if len(loc) > 1 and loc[0] in LOCATIONS:  # where FastAPI found it, not the path
            loc = loc[1:]
        fields.append({"path": loc_path(loc), "message": error_message(err)})
    return JSONResponse(unprocessable(fields), 422)


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette's 405 names only the first
    route's, and GET and POST of one path are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # FastAPI answers a body it could not parse with a bare 400; the reasons left once
    # BodyLimit has checked size and encoding are nesting too deep for the JSON parser, and
    # a number longer than Python reads (sys.get_int_max_str_digits, 4300 digits).
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):
        if isinstance(exc.__cause__, RecursionError):
            problem = "nested too deeply to read"
        elif "digits" in str(exc.__cause__):
            problem = f"holds a number of more than {sys.get_int_max_str_digits()} digits"
        else:
            problem = "not readable JSON"
        return JSONResponse(unprocessable([{"path": "(body)", "message": problem}]), 422)
    body = exc.detail if isinstance(exc.detail, dict) else error_body("http_error", str(exc.detail))
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return JSONResponse(body, exc.status_code, headers=headers or None)


async def on_domain(_req: Request, exc: errors.DomainError) -> JSONResponse:
    if isinstance(exc, errors.InvalidField):
        return JSONResponse(unprocessable([{"path": exc.path, "message": exc.problem}]), 422)
    if isinstance(exc, errors.NotFound):
        status = 404
    elif isinstance(exc, errors.Forbidden):
        status = 403
    elif isinstance(exc, errors.Refused):
        status = 409
    else:
        status = 422
    return JSONResponse(error_body(exc.code, exc.message), status)


RETRY_AFTER_SECONDS = 5


async def on_unavailable(_req: Request, exc: StoreUnavailable) -> JSONResponse:
    """503 with Retry-After; the cause was logged once by the unit of work, not here."""
    body = error_body(
        "unavailable",
        f"the database is unavailable: nothing was changed; retry in {RETRY_AFTER_SECONDS} s "
        "(a repeated submission returns the request it created, if it did)",
    )
    return JSONResponse(body, 503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(errors.DomainError, on_domain)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, on_unavailable)  # type: ignore[arg-type]
