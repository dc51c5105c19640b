"""What the routes depend on: the wired process, its use cases, and the Bearer token check."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.bootstrap import Container
from bot.domain.tokens import BOOTSTRAP, ApiToken, Scope, shown
from bot.entrypoints.http.errors import error_body, invalid, unprocessable
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
) -> ApiToken:
    """The caller's token: the bootstrap token (``APPROVAL_BOT_API_TOKEN``, with the scopes of
    ``APPROVAL_BOT_API_TOKEN_SCOPES``), or one made with `token create`, unexpired."""
    unauthorized = HTTPException(
        401,
        error_body("unauthorized", "a valid Bearer token is required"),
        headers={"WWW-Authenticate": "Bearer"},
    )
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise unauthorized
    secret = creds.credentials
    bootstrap = wired.settings.api_token
    if bootstrap is not None and hmac.compare_digest(
        secret.encode(), bootstrap.get_secret_value().encode()
    ):
        return ApiToken(BOOTSTRAP, wired.settings.bootstrap_scopes())
    token = wired.services.admin.authenticate(secret)
    if token is None:
        raise unauthorized
    if token.expired(wired.services.admin.clock.now()):
        assert token.expires_at is not None
        raise HTTPException(
            401,
            error_body(
                "unauthorized",
                f"token {token.name!r} expired at {token.expires_at:%Y-%m-%d %H:%M} UTC: "
                "make a new one (approval-bot token create)",
            ),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return token


Caller = Annotated[ApiToken, Depends(authorize)]


def _needs(scope: Scope) -> Callable[[ApiToken], Awaitable[ApiToken]]:
    async def scoped(token: Caller) -> ApiToken:
        if not token.allows(scope):
            raise HTTPException(
                403,
                error_body(
                    "forbidden",
                    f"token {token.name!r} lacks the {scope.value!r} scope this needs (it has "
                    f"{shown(token.scopes)}): use a token made with `approval-bot token create "
                    f"NAME --scope {scope.value}`",
                ),
            )
        return token

    return scoped


# What a route needs: its token, with the scope (403 naming the missing scope otherwise).
Reader = Annotated[ApiToken, Depends(_needs(Scope.READ))]
Submitter = Annotated[ApiToken, Depends(_needs(Scope.SUBMIT))]
Administrator = Annotated[ApiToken, Depends(_needs(Scope.ADMIN))]


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query(request: Request) -> None:
    """Refuse query parameters the route does not take (a typo would silently filter nothing)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        fields = [{"path": name, "message": "unknown query parameter"} for name in unknown]
        raise HTTPException(422, unprocessable(fields))


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def aware(value: str | None, name: str) -> datetime | None:
    """A time in a query string: an RFC 3339 date-time, with its zone, that can be in UTC."""
    if value is None:
        return None
    example = "e.g. 2026-01-05T00:00:00Z"
    try:
        when = datetime.fromisoformat(value.upper())
    except ValueError:
        raise invalid(name, f"not a date-time ({example})") from None
    if when.tzinfo is None:
        raise invalid(name, "time zone required", summary=f"{name}: give a time zone, {example}")
    if not _RFC3339.fullmatch(value):
        raise invalid(name, f"not an RFC 3339 date-time ({example})")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise invalid(name, "out of range") from None


# What every API router depends on first: the token (401 before anything else), then no
# query parameter the route does not take.
API_CHECKS = [Depends(authorize), Depends(known_query)]
