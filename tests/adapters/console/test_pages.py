"""What the request and index pages say about decisions, effects and promotions."""

from __future__ import annotations

import asyncio
import re

from bot.domain.model import VoteKind
from bot.domain.names import Channel
from bot.service.identity import Identity
from bot.service.outbox import OutboxDispatcher
from tests.adapters.console.conftest import browser, console_app, submit
from tests.fakes import NotedHandler


def approve(svc, rid):
    svc.commands.vote(rid, Identity(Channel.CLI, "bob"), VoteKind.APPROVE)


def test_an_approved_request_whose_launch_waits_says_why_and_is_not_green(svc):
    """`approved` is not `promoted`: the pill differs, and the waiting launch says why."""
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    approve(svc, rid)
    reason = (
        "promotion launcher not configured (APPROVAL_BOT_LAUNCHER=local needs MLFLOW_TRACKING_URI)"
    )
    dispatcher = OutboxDispatcher(
        svc.uow,
        {"chat": NotedHandler(), "mlflow": NotedHandler()},
        clock=svc.clock,
        unavailable={"kfp.launch_promotion": reason},
    )
    asyncio.run(dispatcher.deliver_due())
    page = browser(app).get(f"/requests/{rid}").text
    assert '<span class="pill approved" title="approved; the promotion has not started">' in page
    assert f'kfp.launch_promotion</code>: <span class="effect waiting">waiting: {reason}' in page
    assert 'mlflow.log_decision</code>: <span class="effect delivered">delivered' in page
    status = browser(app).get(f"/requests/{rid}/status").json()
    assert status["settled"] is False, "a waiting launch may still go out: keep refreshing"


def test_a_failed_promotion_shows_the_reason_and_a_kfp_run_its_link(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    approve(svc, rid)
    svc.commands.promotion_started(rid, "run-42")
    running = browser(app).get(f"/requests/{rid}").text
    assert '<a href="https://kfp.example.com/#/runs/details/run-42"' in running
    assert "running…" in running and 'class="pill promoting"' in running
    svc.commands.promotion_finished(
        rid, succeeded=False, detail="KFP run run-42 FAILED: guard: request is not approved"
    )
    page = browser(app).get(f"/requests/{rid}").text
    assert 'class="pill promotion_failed"' in page
    assert "<b>failed</b>: KFP run run-42 FAILED: guard: request is not approved" in page
    assert "@champion" not in page


def test_a_local_run_says_where_its_record_is(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    approve(svc, rid)
    run = f"local-{rid}-launch_promotion"
    svc.commands.promotion_started(rid, run)
    svc.commands.promotion_finished(
        rid,
        succeeded=True,
        detail=f"local run {run} SUCCEEDED: archived_version=2, champion_version=3",
    )
    page = browser(app).get(f"/requests/{rid}").text
    assert f"its record is /srv/var/kfp-local/runs/{run}.json" in page
    assert "<b>@champion is now v3</b>; v2 archived." in page
    assert 'class="pill promoted"' in page


def test_marks_need_no_emoji_font_and_every_column_has_a_header(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    client = browser(app)
    for path in ("/", f"/requests/{rid}", "/audit"):
        html = client.get(path).text
        assert not re.search("[\u2705\u274c\u2714\u2716\U0001f300-\U0001faff]", html), path
        assert "<th></th>" not in html, path
    assert "<th>result</th>" in client.get(f"/requests/{rid}").text


def test_recent_decisions_show_when_they_were_decided(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    approve(svc, rid)
    decided = svc.queries.get(rid).decided_at.strftime("%Y-%m-%d %H:%M:%S UTC")  # seconds
    html = browser(app).get("/").text
    recent = html[html.index('id="recent"') :]
    assert "<th>decided</th>" in recent and "deadline" not in recent
    assert f'<td class="at">{decided}</td>' in recent
    assert "No decisions yet" not in html


def test_a_rejected_challenger_says_what_became_of_it_in_mlflow(svc):
    """The first screen says a rejected challenger is archived; MLflow shows @rejected. The
    page said only `mlflow.archive_challenger: delivered`: it now says both in one line."""
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice", model_version="3")
    svc.commands.vote(rid, Identity(Channel.CLI, "bob"), VoteKind.REJECT, comment="too slow")
    client = browser(app)
    waiting = client.get(f"/requests/{rid}").text
    assert "Archiving the challenger: v3 gets @rejected in MLflow for @challenger." in waiting
    dispatcher = OutboxDispatcher(
        svc.uow,
        {"chat": NotedHandler(), "mlflow": NotedHandler()},
        clock=svc.clock,
    )
    asyncio.run(dispatcher.deliver_due())
    page = client.get(f"/requests/{rid}").text
    assert (
        '<p id="challenger">Challenger archived: @challenger taken off v3 in MLflow, now '
        "@rejected.</p>"
    ) in page


def test_times_are_shown_to_the_second(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    created = svc.queries.get(rid).created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"at {created}" in browser(app).get(f"/requests/{rid}").text


def test_the_favicon_is_served_at_the_root(svc):
    app, _ = console_app(svc)
    client = browser(app)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00", "an ICO file"
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/").text


def test_a_challenger_that_cannot_be_archived_says_so(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    svc.commands.vote(rid, Identity(Channel.CLI, "bob"), VoteKind.REJECT, comment="too slow")
    dispatcher = OutboxDispatcher(
        svc.uow,
        {"chat": NotedHandler()},
        clock=svc.clock,
        unavailable={"mlflow.archive_challenger": "MLflow not configured"},
    )
    asyncio.run(dispatcher.deliver_due())
    page = browser(app).get(f"/requests/{rid}").text
    assert "The challenger is not archived yet: see mlflow.archive_challenger below." in page
    assert "waiting: MLflow not configured" in page


def test_the_index_shows_an_open_divergence_until_it_is_resolved(svc):
    """The console is `make run`'s channel: the serving watch's alert shows on its index."""
    from bot.domain.divergence import Champion, Divergence, Observation, Served, WatchTarget

    app, _ = console_app(svc)
    seen = Observation(
        WatchTarget("iris-classifier", "local"),
        Served("s3://mlflow/artifacts/1/models/m-a/artifacts", "the local launcher"),
        Champion("3", "s3://mlflow/artifacts/1/models/m-c/artifacts"),
        served_version="2",
    )
    found = Divergence.detect(seen, svc.clock.now())
    with svc.uow() as uow:
        uow.divergences.add(found)
        uow.commit()
    page = browser(app).get("/").text
    assert "Serving and the registry disagree: iris-classifier" in page
    assert "@champion: v3" in page and "m-a/artifacts (v2)" in page
    with svc.uow() as uow:
        again = uow.divergences.get(found.id)
        again.resolve(svc.clock.now(), "agree again")
        uow.divergences.save(again)
        uow.commit()
    assert "Serving and the registry" not in browser(app).get("/").text
