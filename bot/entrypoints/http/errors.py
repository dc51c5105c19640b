"""One JSON error shape for every failure: ``{"error", "message", "fields"?}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.domain import errors
from bot.service.schemas import error_message, loc_path


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


async def on_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
    fields = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body",)]
        fields.append({"path": loc_path(loc), "message": error_message(err)})
    message = "; ".join(f"{f['path']}: {f['message']}" for f in fields) or "invalid request"
    return JSONResponse(error_body("validation_error", message, fields=fields), 422)


async def on_http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
    body = exc.detail if isinstance(exc.detail, dict) else error_body("http_error", str(exc.detail))
    return JSONResponse(body, exc.status_code, headers=getattr(exc, "headers", None))


async def on_domain(_req: Request, exc: errors.DomainError) -> JSONResponse:
    if isinstance(exc, errors.NotFound):
        status = 404
    elif isinstance(exc, errors.Refused):
        status = 409
    else:
        status = 422
    return JSONResponse(error_body(exc.code, exc.message), status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(errors.DomainError, on_domain)  # type: ignore[arg-type]
