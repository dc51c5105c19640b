"""The console while the database is away: an HTML page (503, ``Retry-After``), as a person
in a browser reads it, instead of the API's JSON error.

Every console route that shows a page is wrapped (``add_routes``); the live-status route
that ``console.js`` polls keeps the API's JSON 503, which the script retries on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from bot.ports.store import StoreUnavailable

RETRY_AFTER_SECONDS = 5
HEADING = "The database is unavailable"
MESSAGE = (
    "approval-bot cannot reach its database right now, so nothing was read or changed "
    "(a vote sent just now was not recorded). Try again in a few seconds."
)

Page = Callable[[Request], Response]


def _page(page: Page, request: Request) -> Response:
    response = page(request)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def answering_outages(endpoint: Callable[..., Any], page: Page) -> Callable[..., Any]:
    """``endpoint`` (called with keyword arguments, ``request`` among them, as FastAPI does),
    answering ``StoreUnavailable`` with ``page(request)`` and ``Retry-After``."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(**kwargs: Any) -> Any:
            try:
                return await endpoint(**kwargs)
            except StoreUnavailable:
                return await asyncio.to_thread(_page, page, kwargs["request"])

        return run_async

    @functools.wraps(endpoint)
    def run(**kwargs: Any) -> Any:
        try:
            return endpoint(**kwargs)
        except StoreUnavailable:
            return _page(page, kwargs["request"])

    return run


def add_routes(
    app: FastAPI,
    routes: list[tuple[str, Callable[..., Any], list[str]]],
    error: Callable[[Request, int, str, str], Response],
    *,
    polled: Callable[..., Any],
) -> None:
    """Add the console's routes, each page answering an outage with ``error``'s page."""

    def unavailable(request: Request) -> Response:
        return error(request, 503, HEADING, MESSAGE)

    for path, endpoint, methods in routes:
        if endpoint is not polled:
            endpoint = answering_outages(endpoint, unavailable)
        app.add_api_route(path, endpoint, methods=methods, include_in_schema=False)
