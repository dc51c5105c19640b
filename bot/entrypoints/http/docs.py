"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), with nothing loaded from elsewhere.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an inline
script, so they neither work offline nor run under a Content-Security-Policy worth having.
Here the assets are those of the pinned ``fastapi-offline`` package (Swagger UI 5 and
ReDoc 2 bundles, read from the installed package), Swagger UI is started by a script served
from this app, and both pages carry a CSP that allows scripts from this origin only
(styles may be inline: both UIs set them at run time). ``APPROVAL_BOT_API_DOCS=false``
turns both pages off; ``/openapi.json`` stays (the pipelines and the tests read it).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
_PACKAGE_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
# Swagger UI's start, as FastAPI's page does it inline (fastapi/openapi/docs.py), but as a file;
# without Swagger UI's default validator badge, which sends the schema's URL to
# validator.swagger.io from any host but localhost.
_SWAGGER_INIT = """\
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# Relative addresses: right at /docs and /redoc, and under a path prefix too.
_SWAGGER_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}} - Swagger UI</title>
<link rel="stylesheet" href="{ASSETS[1:]}/swagger-ui.css">
<link rel="icon" href="{ASSETS[1:]}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS[1:]}/swagger-ui-bundle.js"></script>
<script src="{ASSETS[1:]}/swagger-init.js"></script>
</body>
</html>
"""
_REDOC_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} - ReDoc</title>
<link rel="icon" href="{ASSETS[1:]}/favicon.png">
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="{ASSETS[1:]}/redoc.standalone.js"></script>
</body>
</html>
"""


@cache
def _asset(name: str) -> bytes:
    return resources.files("fastapi_offline").joinpath("static", name).read_bytes()


def _secured(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def install(app: FastAPI, *, enabled: bool) -> None:
    """Add ``/docs``, ``/redoc`` and their assets (create the app with ``docs_url=None``)."""
    if not enabled:
        return
    title = app.title

    async def swagger() -> Response:
        return _secured(HTMLResponse(_SWAGGER_PAGE.format(title=title)))

    async def redoc() -> Response:
        return _secured(HTMLResponse(_REDOC_PAGE.format(title=title)))

    def asset(name: str) -> Response:  # a worker thread: the first read is from the disk
        if name == "swagger-init.js":
            body, media = _SWAGGER_INIT.encode(), "text/javascript; charset=utf-8"
        elif name in _PACKAGE_ASSETS:
            body, media = _asset(name), _PACKAGE_ASSETS[name]
        else:
            return _secured(Response("not found\n", 404, media_type="text/plain"))
        response = _secured(Response(body, media_type=media))
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    app.add_api_route("/docs", swagger, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{ASSETS}/{{name}}", asset, methods=["GET"], include_in_schema=False)
