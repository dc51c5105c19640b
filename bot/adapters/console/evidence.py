"""The request page's evidence pictures, served by the bot itself under the console's
Content-Security-Policy (``img-src 'self'``): to whoever may read the console, as the page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from bot.adapters.console import security
from bot.domain import errors

if TYPE_CHECKING:
    from bot.adapters.console.routes import Console


def picture(console: Console, request: Request, request_id: str, index: str) -> Response:
    viewer = console.guarded(request)
    if isinstance(viewer, Response):
        return viewer
    try:
        if not index.isdigit() or len(index) > 2:
            raise errors.NotFound(f"request {request_id} has no picture {index!r}")
        found = console.services.queries.picture(request_id, int(index))
    except errors.NotFound as exc:
        return console.error(request, 404, "Not found", exc.message, viewer)
    response = security.finish(Response(found.data, media_type=found.info.media_type), request)
    # The bytes of a picture never change (its hash is in the audit log): cache them.
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["ETag"] = f'"{found.info.sha256}"'
    return response
