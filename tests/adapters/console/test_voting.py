"""Deciding in the browser: the same service calls, refusals and audit events as any channel."""

from __future__ import annotations

import yaml

from bot.domain.model import VoteKind
from bot.domain.names import Channel, OutboxState
from bot.domain.states import State
from bot.service.identity import Identity
from tests import builders
from tests.adapters.console.conftest import ROOT, browser, console_app, submit, token, vote
from tests.builders import parse_config


def test_the_local_person_approves_on_loopback(svc):
    rid = submit(svc, requested_by="alice")
    app, kicks = console_app(svc)  # counts the commits that deliver at once from here on
    client = browser(app)
    page = client.get(f"/requests/{rid}")
    assert "you@localhost, the local person" in page.text
    assert 'id="approve-form"' in page.text and 'id="reject-form"' in page.text

    r = vote(client, rid, "approve", comment="looks fine")
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{rid}?done=approve"
    assert kicks.count == 1, "delivery is kicked at once, as for a Slack click"
    (cast,) = svc.queries.get(rid).votes
    assert (cast.person, cast.vote.value, cast.channel, cast.comment) == (
        "you",
        "approve",
        "console",
        "looks fine",
    )
    voted = [h for h in svc.queries.history([svc.queries.get(rid)])[rid] if h.kind == "voted"]
    assert voted[0].actor == "you" and voted[0].data["channel"] == "console"

    after = client.get(f"/requests/{rid}?done=approve")
    assert "Your approval is recorded." in after.text
    assert "You voted <b>approve</b>" in after.text
    assert "approved via console" in after.text


def test_a_console_vote_updates_the_slack_and_telegram_messages(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    vote(browser(app), rid, "approve")
    updates = {
        i.key.rsplit(":", 1)[-1]
        for i in svc.queries.outbox_items(OutboxState.PENDING, limit=1000)
        if i.request_id == rid and i.kind == "chat.update"
    }
    assert updates == {"slack", "telegram"}


def test_one_click_in_the_console_decides_the_demo_model(svc):
    """examples/config.yaml: the demo's model needs one approval from ml-leads."""
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="staging-pipeline")
    assert vote(browser(app), rid, "approve").status_code == 303
    assert svc.queries.get(rid).state is State.APPROVED


def test_reject_needs_a_reason_and_records_it(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    client = browser(app)
    refused = vote(client, rid, "reject")
    assert refused.status_code == 409
    assert "Your vote was not counted:</b> a reason is required to reject" in refused.text
    assert svc.queries.get(rid).is_pending

    done = vote(client, rid, "reject", comment="shadow test too short")
    assert done.status_code == 303
    r = svc.queries.get(rid)
    assert (r.state, r.decided_by, r.reason) == (
        State.REJECTED,
        "you",
        "shadow test too short",
    )


def test_a_refused_vote_is_shown_on_the_page_and_audited(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="you")  # the local person asked for it
    r = vote(browser(app), rid, "approve")
    assert r.status_code == 409
    assert 'id="refusal"' in r.text
    assert "you requested churn-classifier v3 and may not approve it" in r.text
    assert svc.queries.get(rid).votes == []
    history = svc.queries.history([svc.queries.get(rid)])[rid]
    denied = [h for h in history if h.kind == "denied"]
    assert denied and denied[0].actor == "console user you@localhost"
    assert denied[0].data["why"] == "self_approval"


def test_a_decided_request_refuses_a_late_vote(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    client = browser(app)
    page = client.get(f"/requests/{rid}")  # the form is open in a tab…
    svc.commands.vote(
        rid, Identity(Channel.CLI, "carol"), VoteKind.REJECT, comment="no"
    )  # …someone else decides
    r = client.post(
        f"/requests/{rid}/vote",
        data={"csrf": token(page.text), "vote": "approve"},
        headers={"Origin": "http://127.0.0.1:8080"},
    )
    assert r.status_code == 409
    assert f"request {rid} is already rejected by carol" in r.text
    assert 'id="vote"' not in r.text, "no forms on a decided request"


def test_approving_failed_gates_asks_for_confirmation_when_the_policy_allows_it(svc):
    raw = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
    raw["policies"][0]["allow_override_failed_gates"] = True
    directory = parse_config(raw)
    svc.admin.apply(directory)
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice", gates=builders.gates(failed=True))
    client = browser(app)
    page = client.get(f"/requests/{rid}")
    assert 'name="override" value="yes" required' in page.text
    assert "Approve although disagreement_rate failed" in page.text

    unconfirmed = vote(client, rid, "approve")
    assert unconfirmed.status_code == 409
    assert "tick the box to confirm" in unconfirmed.text
    assert svc.queries.get(rid).votes == []

    assert vote(client, rid, "approve", override="yes").status_code == 303
    (cast,) = svc.queries.get(rid).votes
    assert cast.override is True


def test_failed_gates_without_an_override_policy_are_refused_by_the_service(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice", gates=builders.gates(failed=True))
    r = vote(browser(app), rid, "approve", override="yes")
    assert r.status_code == 409
    assert "the policy does not allow approving over failed gates" in r.text


def test_the_status_endpoint_follows_the_decision(svc):
    app, _ = console_app(svc)
    rid = submit(svc, model_name="iris-classifier", requested_by="alice")
    client = browser(app)
    before = client.get(f"/requests/{rid}/status").json()
    assert (before["state"], before["pending"], before["settled"]) == ("pending", True, False)
    vote(client, rid, "approve")
    after = client.get(f"/requests/{rid}/status").json()
    assert after["state"] == "approved" and not after["pending"]
    assert after["stamp"] != before["stamp"]
    assert "approved; the promotion has not started" in after["html"]["live-status"].lower()
    assert client.get("/requests/nope/status").status_code == 404
