"""The console's browser-side defences: CSRF tokens, cookies, and the response headers.

- **CSRF**: every page sets a random token in a cookie (``HttpOnly``, ``SameSite=Strict``,
  ``Secure`` when the public URL or the request is HTTPS) and puts the same token in each
  form; a POST counts only when the two match (double submit) and its ``Origin`` (or
  ``Referer``) is this console. Another site can neither read the token nor send the cookie.
- **Headers**: a strict Content-Security-Policy (scripts and styles only from the console's
  own static files, no inline code, no frames), ``nosniff``, no framing, no caching of pages.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "approval_bot_csrf"
CSRF_FIELD = "csrf"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def csrf_token(request: Request) -> str:
    """The visitor's token: the one in their cookie, or a new one (set by ``finish``)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) >= 32 and current.replace("-", "").replace("_", "").isalnum():
        return current
    return secrets.token_urlsafe(32)


R = TypeVar("R", bound=Response)


def finish(response: R, request: Request, token: str | None = None, public_url: str = "") -> R:
    """Add the security headers, and the CSRF cookie when the page carries a new token.

    The cookie is ``Secure`` when people open the console over HTTPS: the public URL says so
    (behind a TLS-terminating proxy the request itself arrives as plain HTTP), or the request
    came over HTTPS.
    """
    for name, value in HEADERS.items():
        response.headers[name] = value
    if token is not None and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" or public_url.lower().startswith("https://"),
            path="/",
        )
    return response


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: Request, public_url: str) -> bool:
    """The POST comes from a page of this console (``Origin``, else ``Referer``).

    Browsers send ``Origin`` on every form POST; a request with neither header is not from a
    browser form and passes on the token alone.
    """
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return True
    origin = _origin(sent)
    host = request.headers.get("host", "")
    ours = {f"{request.url.scheme}://{host}".lower(), _origin(public_url)}
    return origin is not None and origin in ours


def check_csrf(request: Request, form: Mapping[str, str], public_url: str) -> str | None:
    """None when the form may be trusted; otherwise why not (for the 403 page)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return "the form's security token is missing or does not match: reload the page"
    if not same_origin(request, public_url):
        return "the form was sent from another site"
    return None
