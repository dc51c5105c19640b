"""The audit page: the filters of `approval-bot audit` and `GET /api/v1/audit`, cursor paging,
the CSV export, each request's timeline and the hash-chain check."""

from __future__ import annotations

import csv
import io
import re

from bot.adapters.console import routes
from bot.domain.model import VoteKind
from bot.domain.names import Channel
from bot.entrypoints import render
from bot.service.identity import Identity
from bot.service.views import AUDIT_HEADERS
from tests.adapters.console.conftest import browser, console_app, submit


def cli(svc, rid, person, kind, comment=None):
    svc.commands.vote(rid, Identity(Channel.CLI, person), kind, comment=comment)


def decided(svc):
    """churn-classifier approved by alice+carol, iris-classifier rejected by bob, one pending."""
    approved = submit(svc, requested_by="bob")
    cli(svc, approved, "alice", VoteKind.APPROVE)
    cli(svc, approved, "carol", VoteKind.APPROVE)
    rejected = submit(svc, model_name="iris-classifier", requested_by="alice")
    cli(svc, rejected, "bob", VoteKind.REJECT, '=HYPERLINK("http://x")')
    pending = submit(svc, model_name="fraud-detector", requested_by="alice")
    return approved, rejected, pending


def ids_on(html: str) -> list[str]:
    return re.findall(r'<a href="/requests/([a-z0-9]+)"><code>', html)


def test_filters_match_the_cli_and_the_api(svc):
    app, _ = console_app(svc)
    approved, rejected, pending = decided(svc)
    client = browser(app)
    assert ids_on(client.get("/audit").text) == [approved, rejected, pending]
    assert ids_on(client.get("/audit?decision=approved").text) == [approved]
    assert ids_on(client.get("/audit?decision=rejected").text) == [rejected]
    assert ids_on(client.get("/audit?decision=pending").text) == [pending]
    assert ids_on(client.get("/audit?approver=carol").text) == [approved]
    assert ids_on(client.get("/audit?model=iris-classifier").text) == [rejected]
    assert ids_on(client.get("/audit?since=2000-01-01&until=2000-01-02").text) == []
    assert "No requests match." in client.get("/audit?model=nothing").text

    bad = client.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "since: &#39;yesterday&#39; is not a date" in bad.text
    bad_cursor = client.get("/audit?cursor=garbage")
    assert bad_cursor.status_code == 422 and "cursor: not a valid cursor" in bad_cursor.text
    assert client.get("/audit?decision=maybe").status_code == 422


def test_cursor_paging_walks_every_request_once(svc, monkeypatch):
    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    app, _ = console_app(svc)
    made = [submit(svc, model_name=f"m{i}", requested_by="alice") for i in range(5)]
    client = browser(app)
    seen, url = [], "/audit"
    while url:
        html = client.get(url).text
        seen += ids_on(html)
        nxt = re.search(r'<a href="(/audit\?[^"]+)" id="next">', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert seen == made


def test_csv_export_has_the_cli_columns_and_no_formulas(svc):
    app, _ = console_app(svc)
    approved, rejected, _pending = decided(svc)
    r = browser(app).get("/audit.csv?decision=rejected")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="approval-bot-audit-')
    rows = list(csv.reader(io.StringIO(r.text)))
    assert tuple(rows[0]) == AUDIT_HEADERS
    assert [row[0] for row in rows[1:]] == [rejected]
    assert rows[1][AUDIT_HEADERS.index("reason")] == '\'=HYPERLINK("http://x")'

    everything = list(csv.reader(io.StringIO(browser(app).get("/audit.csv").text)))
    assert [row[0] for row in everything[1:]] == [approved, rejected, _pending]
    assert everything[1][AUDIT_HEADERS.index("approvers")] == "alice,carol"


def test_timelines_are_numbered_as_show_and_audit_verify_number_them(svc):
    """One numbering everywhere: the audit log's own (`show`, `audit verify`, the chat
    `audit` commands). The console numbered 1-7 where `show` said #2-#8, and the chain's
    "8 events" stood unexplained beside a "timeline (7 events)"."""
    app, _ = console_app(svc)
    submit(svc, model_name="noise", requested_by="alice")  # earlier events elsewhere
    approved, _rejected, _pending = decided(svc)
    with svc.uow() as uow:
        seqs = [r.seq for r in uow.audit.records(approved)]
    client = browser(app)
    html = client.get("/audit?decision=approved").text
    assert "timeline (4 events)" in html
    assert re.findall(r"<li>#(\d+) · ", html) == [str(n) for n in seqs]
    count, _problem = svc.admin.verify_audit()
    assert f"checks out: all {count} events (#1–#{count}), config and token changes" in html
    assert "<b>voted</b> by alice" in html and "<b>decided</b> by alice,carol" in html
    page = client.get(f"/requests/{approved}").text
    assert re.findall(r"<tr><td[^>]*>#(\d+)</td>", page) == [str(n) for n in seqs]
    assert seqs[0] > 1, "the request's events are not the log's first"
    shown = render.show(
        *svc.queries.get_with_policy(approved),
        svc.queries.history([svc.queries.get(approved)])[approved],
    )
    assert re.findall(r"^  #(\d+) ", shown, re.M) == [str(n) for n in seqs]


def test_the_audit_page_shows_the_hash_chain_check(svc, sqlite_url):
    app, _ = console_app(svc)
    decided(svc)
    client = browser(app)
    assert "hash chain checks out" in client.get("/audit").text
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE kind = 'voted'"))
    engine.dispose()
    html = client.get("/audit").text
    assert "TAMPERED" in html and "edited" in html


def test_the_audit_page_shows_the_last_check_and_never_walks_the_whole_chain(
    svc, sqlite_url, monkeypatch
):
    from sqlalchemy import create_engine, text

    from bot.service import audit

    app, _ = console_app(svc)
    decided(svc)
    kept = svc.audit.check()
    client = browser(app)
    html = client.get("/audit").text
    n = kept.last.seq
    assert f"hash chain checks out: all {n} events (#1–#{n}), config and token changes" in html
    assert "The log is not signed (APPROVAL_BOT_AUDIT_KEY is not set)" in html

    # An event the last check vouched for, edited without re-hashing: a page view does not
    # walk the chain again, so it still shows the last check ...
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    engine.dispose()
    assert "hash chain checks out" in client.get("/audit").text
    # ... and past its budget of new events it says how many wait for the scheduler's check.
    monkeypatch.setattr(audit, "PAGE_BUDGET", 2)
    submit(svc, model_name="m1", requested_by="alice")
    submit(svc, model_name="m2", requested_by="alice")
    submit(svc, model_name="m3", requested_by="alice")
    html = client.get("/audit").text
    assert re.search(r'id="unchecked">3 newer events are not checked yet', html)
    # The next full walk finds the edit; the page shows it, and when it was found.
    svc.audit.verify()
    html = client.get("/audit").text
    assert "TAMPERED" in html and "event #2 " in html and "(found " in html
