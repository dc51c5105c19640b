"""The console's Pause / Resume / Roll back / Promote now on a running canary: a form on the
request page (CSRF-checked as votes are), decided by the chat core's rules
(bot/service/rollouts.py) as the console's person."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.adapters.console import security
from bot.domain import errors
from bot.domain.rollout import RolloutAction
from bot.service.logctx import bind_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.adapters.console.pages import Viewer
    from bot.adapters.console.routes import Console

    # what a steering form decides, for a viewer who may vote, given the form's action
    Decide = Callable[[Console, Request, str, Viewer, str | None], Response]

log = logging.getLogger("bot.console")

DONE = {
    "pause": "The canary is paused.",
    "resume": "The canary goes on.",
    "rollback": "The canary is being rolled back.",
    "promote_now": "The canary is being promoted now.",
}


async def control(console: Console, request: Request, request_id: str) -> Response:
    return await steering_form(console, request, request_id, _control)


async def steering_form(
    console: Console, request: Request, subject: str, decide: Decide
) -> Response:
    """A form that steers (a canary's rollout, a divergence's way out): CSRF-checked as votes
    are, then ``decide`` (blocking: in a thread) for a viewer who may vote, with the form's
    ``action``."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    why = security.check_csrf(request, form, console.public_url)
    if why is not None:
        log.warning("console: refused a form on %s: %s", subject, why)
        return await asyncio.to_thread(
            console.error, request, 403, "Form refused", f"Nothing was done: {why}."
        )
    return await asyncio.to_thread(_guarded, console, request, subject, decide, form.get("action"))


def _guarded(
    console: Console, request: Request, subject: str, decide: Decide, action: str | None
) -> Response:
    viewer = console.guarded(request)
    if isinstance(viewer, Response):
        return viewer
    if viewer.identity is None or not viewer.can_vote:
        why = viewer.why_no_vote or "no identity"
        return console.error(request, 403, "Not allowed here", why, viewer)
    return decide(console, request, subject, viewer, action)


def _control(
    console: Console, request: Request, request_id: str, viewer: Viewer, action: str | None
) -> Response:
    assert viewer.identity is not None
    try:
        chosen = RolloutAction(action or "")
    except ValueError:
        return console.error(request, 422, "Not done", "the form named no action", viewer)
    with bind_request(request_id):
        try:
            console.services.rollouts.control(request_id, viewer.identity, chosen)
        except errors.UnknownRequest as exc:
            return console.error(request, 404, "Not found", exc.message, viewer)
        except errors.DomainError as exc:
            log.info("console: %s's %s refused: %s", viewer.email, chosen.value, exc.message)
            return console.error(request, 409, "Not done", exc.message, viewer)
    log.info("console: %s asked %s", viewer.email, chosen.value)
    return RedirectResponse(f"/requests/{request_id}?done={chosen.value}", status_code=303)
