"""What the routes depend on: the wired process, its use cases, and the Bearer token check."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.bootstrap import Container
from bot.entrypoints.http.errors import error_body, invalid
from bot.service import Services

bearer = HTTPBearer(auto_error=False, description="An API token (`approval-bot token create`)")


def container(request: Request) -> Container:
    wired: Container = request.app.state.container
    return wired


def services(request: Request) -> Services:
    return container(request).services


ContainerDep = Annotated[Container, Depends(container)]
ServicesDep = Annotated[Services, Depends(services)]


def authorize(
    wired: ContainerDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The name of the caller's token: the bootstrap token, or one made with `token create`."""
    unauthorized = HTTPException(
        401,
        error_body("unauthorized", "a valid Bearer token is required"),
        headers={"WWW-Authenticate": "Bearer"},
    )
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise unauthorized
    token = creds.credentials
    bootstrap = wired.settings.api_token
    if bootstrap is not None and hmac.compare_digest(
        token.encode(), bootstrap.get_secret_value().encode()
    ):
        return "bootstrap"
    name = wired.services.admin.authenticate(token)
    if name is None:
        raise unauthorized
    return name


Caller = Annotated[str, Depends(authorize)]


def aware(value: datetime | None, name: str) -> datetime | None:
    """Times in query strings need a zone."""
    if value is not None and value.tzinfo is None:
        raise invalid(
            name,
            "time zone required",
            summary=f"{name}: give a time zone, e.g. 2026-01-05T00:00:00Z",
        )
    return value
