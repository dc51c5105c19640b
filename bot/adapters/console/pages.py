"""Read-only HTML pages: requests, their gates, rules, votes and audit history.

Votes are cast from Slack, Telegram or the CLI, where the person is identified;
the console shows state and never needs a secret. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from bot.domain import errors
from bot.domain.audit import AuditRecord
from bot.domain.model import ApprovalRequest, Policy
from bot.ports import RequestFilter
from bot.service.queries import Queries

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d232a;
padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%}td,th{padding:.35rem .6rem;
border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{font-weight:600;background:#f6f7f9}.ok{color:#137333}.bad{color:#b3261e}
.state{display:inline-block;padding:.05rem .5rem;border-radius:1rem;background:#eef1f4}
.pending{background:#fff4ce}.approved,.promoted{background:#d9f2e0}
.rejected,.expired,.promotion_failed{background:#fbe0de}
code{font-size:.9em}a{color:#0b57d0}.muted{color:#5f6b76}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)} · approval-bot</title><style>{STYLE}</style></head>"
        f"<body><p class=muted><a href='/'>approval-bot</a></p>{body}</body></html>"
    )


def _state(r: ApprovalRequest) -> str:
    return f"<span class='state {escape(r.state.value)}'>{escape(r.state.value)}</span>"


def _ts(value: Any) -> str:
    return escape(value.strftime("%Y-%m-%d %H:%M UTC")) if value else "–"


def _gates(r: ApprovalRequest) -> str:
    if not r.gates:
        return "<p class=muted>No gate results were reported.</p>"
    rows = "".join(
        f"<tr><td>{escape(g.name)}</td><td>{g.value:g}</td>"
        f"<td>{'no champion yet' if g.no_champion else escape(g.op) + f' {g.threshold:g}'}</td>"
        f"<td class={'ok' if g.passed else 'bad'}>{'✅ passed' if g.passed else '❌ failed'}"
        f"</td></tr>"
        for g in r.gates
    )
    return f"<table><tr><th>gate</th><th>value</th><th>threshold</th><th></th></tr>{rows}</table>"


def _rules(r: ApprovalRequest, policy: Policy | None) -> str:
    if policy is None:
        return "<p class=muted>No policy applies to this model.</p>"
    rows = "".join(
        f"<tr><td>{escape(p.group)}</td><td>{p.approvals}/{p.min_approvals}</td>"
        f"<td>{escape(', '.join(p.people)) or '–'}</td></tr>"
        for p in r.progress(policy)
    )
    return f"<table><tr><th>group</th><th>approvals</th><th>by</th></tr>{rows}</table>"


def _history(records: list[AuditRecord]) -> str:
    rows = "".join(
        f"<tr><td>#{h.seq}</td><td>{_ts(h.at)}</td><td>{escape(h.kind)}</td>"
        f"<td>{escape(h.actor)}</td></tr>"
        for h in records
    )
    return f"<table><tr><th></th><th>at</th><th>event</th><th>by</th></tr>{rows}</table>"


def _rows(items: list[ApprovalRequest]) -> str:
    return "".join(
        f"<tr><td><a href='/requests/{escape(r.id)}'><code>{escape(r.id)}</code></a></td>"
        f"<td>{escape(r.model_name)} v{escape(r.model_version)}</td><td>{_state(r)}</td>"
        f"<td>{escape(r.requested_by)}</td><td>{_ts(r.deadline_at)}</td>"
        f"<td>{escape(r.decided_by or '–')}</td></tr>"
        for r in items
    )


_HEAD = (
    "<tr><th>id</th><th>model</th><th>state</th><th>requested by</th>"
    "<th>deadline</th><th>decided by</th></tr>"
)


def index(queries: Queries) -> HTMLResponse:
    """Pending requests, then the latest decisions."""
    pending = queries.pending()
    recent = queries.search(RequestFilter(decided=True, newest_first=True, limit=25))
    body = "<h1>Pending approvals</h1>"
    body += (
        f"<table>{_HEAD}{_rows(pending)}</table>"
        if pending
        else "<p class=muted>Nothing is waiting for a decision.</p>"
    )
    body += "<h2>Recent decisions</h2>"
    body += (
        f"<table>{_HEAD}{_rows(recent)}</table>"
        if recent
        else "<p class=muted>No decisions yet.</p>"
    )
    body += (
        "<p class=muted>Vote from Slack, Telegram or the CLI "
        "(<code>approval-bot approve ID --as PERSON</code>).</p>"
    )
    return _page("Approvals", body)


def request_page(queries: Queries, request_id: str) -> HTMLResponse:
    """One request: gates, rules, votes, decision, links and history."""
    try:
        r, policy = queries.get_with_policy(request_id)
    except errors.UnknownRequest:
        resp = _page("Not found", f"<h1>No request {escape(request_id)}</h1>")
        resp.status_code = 404
        return resp
    history = queries.history([r])[r.id]
    links = "".join(
        f"<li><a href='{escape(url)}' rel=noopener>{escape(name)}</a></li>"
        for name, url in r.links.items()
        if url.startswith(("http://", "https://"))
    )
    votes = (
        "".join(
            f"<li>{escape(v.person)} <b>{escape(v.vote.value)}</b> via {escape(v.channel)} at "
            f"{_ts(v.at)}{' — ' + escape(v.comment) if v.comment else ''}</li>"
            for v in r.votes
        )
        or "<li class=muted>none yet</li>"
    )
    decided = (
        f"<p>Decided <b>{escape(str(r.decision))}</b> by {escape(r.decided_by or '')}"
        f" at {_ts(r.decided_at)}: {escape(r.reason or '')}</p>"
        if r.decided_at
        else f"<p>Deadline {_ts(r.deadline_at)}</p>"
    )
    body = (
        f"<h1>{escape(r.model_name)} v{escape(r.model_version)} {_state(r)}</h1>"
        f"<p class=muted>request <code>{escape(r.id)}</code>, requested by "
        f"{escape(r.requested_by)} at {_ts(r.created_at)}</p>{decided}"
        f"<h2>Gates</h2>{_gates(r)}<h2>Rules</h2>{_rules(r, policy)}"
        f"<h2>Votes</h2><ul>{votes}</ul>"
        + (f"<h2>Links</h2><ul>{links}</ul>" if links else "")
        + f"<h2>History</h2>{_history(history)}"
    )
    return _page(f"{r.model_name} v{r.model_version}", body)


def mount(app: FastAPI, queries: Queries) -> None:
    """The pages, as plain ``def`` routes (FastAPI runs them in worker threads)."""

    def index_route() -> HTMLResponse:
        return index(queries)

    def request_route(request_id: str) -> HTMLResponse:
        return request_page(queries, request_id)

    app.add_api_route("/", index_route, response_class=HTMLResponse, include_in_schema=False)
    app.add_api_route(
        "/requests/{request_id}",
        request_route,
        response_class=HTMLResponse,
        include_in_schema=False,
    )
