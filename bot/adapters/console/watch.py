"""The console's Deploy the champion / Move the alias back on a divergence's alert (the index
page; docs/watch.md): a form, CSRF-checked as votes are, decided by the service's rules
(bot/service/watch_actions.py) as the console's person."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.adapters.console.rollout import steering_form
from bot.domain import errors
from bot.domain.divergence import ALIAS_BACK, DEPLOY_CHAMPION

if TYPE_CHECKING:
    from bot.adapters.console.pages import Viewer
    from bot.adapters.console.routes import Console

log = logging.getLogger("bot.console")

DONE = {
    DEPLOY_CHAMPION: "A promotion run deploys the champion; the alert says when it is over.",
    ALIAS_BACK: "@champion goes back to the served version; the alert says when it is over.",
}


async def act(console: Console, request: Request, divergence_id: str) -> Response:
    return await steering_form(console, request, divergence_id, _act)


def _act(
    console: Console, request: Request, divergence_id: str, viewer: Viewer, action: str | None
) -> Response:
    assert viewer.identity is not None
    chosen = action or ""
    if chosen not in DONE:
        return console.error(request, 422, "Not done", "the form named no action", viewer)
    try:
        console.services.watch.act(divergence_id, viewer.identity, chosen)
    except errors.NotFound as exc:
        return console.error(request, 404, "Not found", exc.message, viewer)
    except errors.DomainError as exc:
        log.info("console: %s's %s refused: %s", viewer.email, chosen, exc.message)
        return console.error(request, 409, "Not done", exc.message, viewer)
    log.info("console: %s asked %s on divergence %s", viewer.email, chosen, divergence_id)
    return RedirectResponse(f"/?done={chosen}", status_code=303)
