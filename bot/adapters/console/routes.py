"""The console's routes: pages, the vote form, the live status, the audit page and its CSV.

Reads are plain ``def`` routes (FastAPI runs them in worker threads); the vote form is read
on the loop and cast in a worker thread. A vote is ``services.commands.vote(request_id,
Identity(console, email), …)`` like any channel's: the same refusals (shown on the page),
the same audit events (``channel=console``), and the same outbox rows, so a console vote
updates the request's messages in every chat channel too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.adapters.console import evidence, outage, pages, rollout, security, watch
from bot.adapters.console.identity import Gatekeeper, Via
from bot.domain import errors
from bot.domain.model import VoteKind
from bot.domain.states import DECISION_FILTERS, State
from bot.domain.text import COMMENT_MAX
from bot.ports.store import RequestFilter
from bot.service import Services
from bot.service.chat.alerts import alert_buttons, alert_lines
from bot.service.chat.rich import plain
from bot.service.cursor import decode_cursor, encode_cursor
from bot.service.logctx import bind_request
from bot.service.views import AUDIT_HEADERS, audit_rows, to_csv

log = logging.getLogger("bot.console")

MAX_COMMENT = COMMENT_MAX  # as in every channel
PAGE_SIZE = 25
STATIC = {"console.css": "text/css", "console.js": "text/javascript", "favicon.ico": "image/x-icon"}
DONE = {
    "approve": "Your approval is recorded.",
    "reject": "Your rejection is recorded.",
    **rollout.DONE,
    **watch.DONE,
}


@dataclass(frozen=True, slots=True)
class Console:
    """What the routes need: the use cases, who is asking, how to deliver at once, links."""

    services: Services
    gatekeeper: Gatekeeper
    public_url: str
    links: pages.RunLinks

    # -- who is asking ----------------------------------------------------------------

    def viewer(self, request: Request) -> pages.Viewer:
        """The person at the console; ``errors.Refused`` when they may not read."""
        client = request.client.host if request.client else None
        visitor = self.gatekeeper.visitor(client, request.headers)
        if visitor.refused:
            raise errors.Refused(visitor.refused)
        who = visitor.identity
        if who is None:
            return pages.Viewer(None, None, visitor.via.value, visitor.why_no_vote)
        try:
            person = self.services.queries.reader(who)
        except errors.UnknownPerson:
            if visitor.via is Via.PROXY:
                raise errors.Refused(
                    f"{visitor.email} is not enrolled: ask an admin to add "
                    f"`email: {visitor.email}` to a person in the approval-bot config"
                ) from None
            return pages.Viewer(
                None,
                visitor.email,
                visitor.via.value,
                f"APPROVAL_BOT_CONSOLE_LOCAL_EMAIL is {visitor.email}, but no configured "
                "person has that email: add it to a person in the config "
                "(examples/config.yaml has one)",
            )
        return pages.Viewer(person, visitor.email, visitor.via.value, None)

    # -- responses --------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        token = security.csrf_token(request)
        html = pages.render(template, csrf=token, max_comment=MAX_COMMENT, **context)
        return security.finish(HTMLResponse(html, status), request, token, self.public_url)

    def error(
        self,
        request: Request,
        status: int,
        heading: str,
        message: str,
        viewer: pages.Viewer | None = None,
    ) -> HTMLResponse:
        viewer = viewer or pages.Viewer(None, None, Via.NONE.value, None)
        return self.page(
            request,
            "error.html",
            status,
            title=heading,
            heading=heading,
            message=message,
            viewer=viewer,
        )

    def guarded(self, request: Request) -> pages.Viewer | HTMLResponse:
        try:
            return self.viewer(request)
        except errors.DomainError as exc:
            return self.error(request, 403, "Not allowed", exc.message)

    # -- pages ------------------------------------------------------------------------

    def index(self, request: Request) -> Response:
        viewer = self.guarded(request)
        if isinstance(viewer, Response):
            return viewer
        queries = self.services.queries
        recent = queries.search(RequestFilter(decided=True, newest_first=True, limit=25))
        return self.page(
            request,
            "index.html",
            title="Approvals",
            viewer=viewer,
            pending=queries.pending(),
            recent=recent,
            alerts=[
                {
                    "id": d.id,
                    "lines": [plain(line) for line in alert_lines(d)],
                    "actions": buttons.labelled() if (buttons := alert_buttons(d)) else (),
                }
                for d in queries.open_divergences()
            ],
            done=DONE.get(request.query_params.get("done", "")),
        )

    def request_page(
        self, request: Request, request_id: str, *, refusal: str | None = None, status: int = 200
    ) -> Response:
        viewer = self.guarded(request)
        if isinstance(viewer, Response):
            return viewer
        try:
            view = pages.request_view(self.services.queries, request_id, self.links)
        except errors.UnknownRequest as exc:
            return self.error(request, 404, "Not found", exc.message, viewer)
        r = view.request
        mine = view.votes_by.get(viewer.person.name) if viewer.person else None
        done = DONE.get(request.query_params.get("done", "")) if refusal is None else None
        return self.page(
            request,
            "request.html",
            status,
            title=f"{r.model_name} v{r.model_version}",
            viewer=viewer,
            view=view,
            my_vote=mine,
            refusal=refusal,
            done=done,
        )

    def status(self, request: Request, request_id: str) -> Response:
        """The live parts of the request page, for ``console.js`` (polled until settled)."""
        try:
            self.viewer(request)
            view = pages.request_view(self.services.queries, request_id, self.links)
        except errors.NotFound as exc:
            return security.finish(JSONResponse({"error": exc.message}, 404), request)
        except errors.DomainError as exc:
            return security.finish(JSONResponse({"error": exc.message}, 403), request)
        body = {
            "state": view.request.state.value,
            "pending": view.request.is_pending,
            "settled": view.settled,
            "stamp": view.stamp,
            "html": {
                "live-status": pages.render("live_status.html", view=view),
                "live-rules": pages.render("live_rules.html", view=view),
                "live-history": pages.render("live_history.html", view=view),
            },
        }
        return security.finish(JSONResponse(body), request)

    # -- the vote ---------------------------------------------------------------------

    async def vote(self, request: Request, request_id: str) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        why = security.check_csrf(request, form, self.public_url)
        if why is not None:
            log.warning("console: refused a vote form on %s: %s", request_id, why)
            return await asyncio.to_thread(
                self.error, request, 403, "Form refused", f"Nothing was recorded: {why}."
            )
        return await asyncio.to_thread(self._cast, request, request_id, form)

    def _cast(self, request: Request, request_id: str, form: Mapping[str, str]) -> Response:
        viewer = self.guarded(request)
        if isinstance(viewer, Response):
            return viewer
        who = viewer.identity
        if who is None or not viewer.can_vote:
            return self.error(
                request, 403, "Voting is off", viewer.why_no_vote or "no identity", viewer
            )
        kind = {"approve": VoteKind.APPROVE, "reject": VoteKind.REJECT}.get(form.get("vote", ""))
        comment = (form.get("comment") or "").strip() or None
        if kind is None:
            return self.request_page(
                request, request_id, refusal="the form named no vote", status=422
            )
        if comment is not None and len(comment) > MAX_COMMENT:
            return self.request_page(
                request,
                request_id,
                refusal=f"the comment is longer than {MAX_COMMENT} characters",
                status=422,
            )
        with bind_request(request_id):
            try:
                if kind is VoteKind.APPROVE and form.get("override") != "yes":
                    self._confirmed(request_id)
                result = self.services.commands.vote(request_id, who, kind, comment=comment)
            except errors.UnknownRequest as exc:
                return self.error(request, 404, "Not found", exc.message, viewer)
            except errors.DomainError as exc:
                log.info("console: %s's %s refused: %s", viewer.email, kind.value, exc.message)
                return self.request_page(request, request_id, refusal=exc.message, status=409)
            log.info(
                "console: %s %s (%s)",
                result.vote.person,
                pages.PAST[kind.value],
                result.request.state.value,
            )
        return RedirectResponse(f"/requests/{request_id}?done={kind.value}", status_code=303)

    def _confirmed(self, request_id: str) -> None:
        """Approving over failed gates must be confirmed when the policy allows it at all."""
        r, policy = self.services.queries.get_with_policy(request_id)
        if r.is_pending and r.failed_gates and policy and policy.allow_override_failed_gates:
            names = ", ".join(g.name for g in r.failed_gates)
            raise errors.Refused(
                f"gates failed ({names}): tick the box to confirm you approve over them"
            )

    # -- audit ------------------------------------------------------------------------

    def _filter(self, params: Mapping[str, str]) -> tuple[dict[str, str], RequestFilter]:
        """The audit filters (those of ``approval-bot audit`` and ``GET /api/v1/audit``);
        ValueError naming the bad one."""
        f = {k: (params.get(k) or "").strip() for k in ("model", "decision", "approver")}
        f |= {k: (params.get(k) or "").strip() for k in ("since", "until")}
        decisions = [d.value for d in DECISION_FILTERS]
        if f["decision"] and f["decision"] not in decisions:
            raise ValueError(f"decision: must be one of {', '.join(decisions)}")
        times: dict[str, datetime | None] = {}
        for key in ("since", "until"):
            times[key] = None
            if f[key]:
                try:
                    value = datetime.fromisoformat(f[key])
                except ValueError:
                    raise ValueError(f"{key}: {f[key]!r} is not a date (YYYY-MM-DD)") from None
                times[key] = value if value.tzinfo else value.replace(tzinfo=UTC)
        flt = RequestFilter(
            model=f["model"] or None,
            since=times["since"],
            until=times["until"],
            approver=f["approver"] or None,
            decision=State(f["decision"]) if f["decision"] else None,
        )
        return f, flt

    def audit(self, request: Request) -> Response:
        viewer = self.guarded(request)
        if isinstance(viewer, Response):
            return viewer
        params = request.query_params
        queries = self.services.queries
        problem = None
        rows: list[Any] = []
        next_query = None
        try:
            f, flt = self._filter(params)
            after = _cursor(params.get("cursor"))
        except ValueError as exc:
            problem = str(exc)
            f = {k: params.get(k, "") for k in ("model", "decision", "approver", "since", "until")}
        else:
            found = queries.search(replace(flt, limit=PAGE_SIZE + 1, after_id=after))
            page = found[:PAGE_SIZE]
            history = queries.history(page)
            rows = [(r, pages.timeline(history[r.id])) for r in page]
            if len(found) > PAGE_SIZE:
                last = page[-1]
                next_query = _query(f, cursor=encode_cursor(last.created_at, last.id))
        return self.page(
            request,
            "audit.html",
            200 if problem is None else 422,
            title="Audit",
            viewer=viewer,
            f=f,
            decisions=[d.value for d in DECISION_FILTERS],
            rows=rows,
            problem=problem,
            query=_query(f),
            next_query=next_query,
            audit=self.services.audit.status(),  # the last check, not a walk of the chain
        )

    def audit_csv(self, request: Request) -> Response:
        viewer = self.guarded(request)
        if isinstance(viewer, Response):
            return viewer
        try:
            _f, flt = self._filter(request.query_params)
        except ValueError as exc:
            return security.finish(Response(f"{exc}\n", 422, media_type="text/plain"), request)
        found = self.services.queries.search(flt)
        body = to_csv(AUDIT_HEADERS, audit_rows(found))
        response = Response(body, media_type="text/csv; charset=utf-8")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="approval-bot-audit-{stamp}.csv"'
        )
        return security.finish(response, request)

    # -- static -----------------------------------------------------------------------

    def static(self, request: Request, name: str) -> Response:
        if name not in STATIC:
            return security.finish(Response("not found\n", 404, media_type="text/plain"), request)
        data = resources.files("bot.adapters.console").joinpath("static", name).read_bytes()
        response = security.finish(Response(data, media_type=STATIC[name]), request)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        return decode_cursor(value)
    except ValueError:
        raise ValueError("cursor: not a valid cursor (start again from the first page)") from None


def _query(f: Mapping[str, str], **extra: str) -> str:
    items = [(k, v) for k, v in {**f, **extra}.items() if v]
    return ("?" + urlencode(items)) if items else ""


def mount(app: FastAPI, console: Console) -> None:
    """Add the console's routes to the ASGI app."""

    def request_page(request: Request, request_id: str) -> Response:
        return console.request_page(request, request_id)

    def status(request: Request, request_id: str) -> Response:
        return console.status(request, request_id)

    async def vote(request: Request, request_id: str) -> Response:
        return await console.vote(request, request_id)

    async def control(request: Request, request_id: str) -> Response:
        return await rollout.control(console, request, request_id)

    async def divergence(request: Request, divergence_id: str) -> Response:
        return await watch.act(console, request, divergence_id)

    def static(request: Request, name: str) -> Response:
        return console.static(request, name)

    def picture(request: Request, request_id: str, index: str) -> Response:
        return evidence.picture(console, request, request_id, index)

    def favicon(request: Request) -> Response:  # browsers ask for it at the root
        return console.static(request, "favicon.ico")

    routes: list[tuple[str, Callable[..., Any], list[str]]] = [
        ("/", console.index, ["GET"]),
        ("/requests/{request_id}", request_page, ["GET"]),
        ("/requests/{request_id}/status", status, ["GET"]),
        ("/requests/{request_id}/vote", vote, ["POST"]),
        ("/requests/{request_id}/evidence/{index}", picture, ["GET"]),
        ("/requests/{request_id}/rollout", control, ["POST"]),
        ("/divergences/{divergence_id}", divergence, ["POST"]),
        ("/audit", console.audit, ["GET"]),
        ("/audit.csv", console.audit_csv, ["GET"]),
        ("/console/static/{name}", static, ["GET"]),
        ("/favicon.ico", favicon, ["GET"]),
    ]
    outage.add_routes(app, routes, console.error, polled=status)
