"""A running canary in the console: its step, traffic and analysis on the request page, and
Pause / Resume / Roll back / Promote now forms, decided by the same rules as any channel."""

from __future__ import annotations

from tests.adapters.console.conftest import browser, console_app, submit, token, vote

PROGRESS = {
    "phase": "dwelling",
    "step": 50,
    "steps": [10, 25, 50, 100],
    "traffic": {"iris-predictor-00002": 50, "iris-predictor-00001": 50},
}


def act(client, rid: str, action: str):
    page = client.get(f"/requests/{rid}")
    data = {"csrf": token(page.text), "action": action}
    origin = str(client.base_url).rstrip("/")
    return client.post(f"/requests/{rid}/rollout", data=data, headers={"Origin": origin})


def test_the_console_shows_and_steers_a_running_canary(svc):
    app, _ = console_app(svc)
    client = browser(app)
    rid = submit(svc, model_name="iris-classifier", requested_by="staging-pipeline")
    assert vote(client, rid, "approve").status_code == 303
    svc.commands.promotion_started(rid, "run-1")
    svc.rollouts.report(rid, PROGRESS)

    page = client.get(f"/requests/{rid}").text
    assert "Canary dwelling at 50% (steps 10% → 25% → 50% → 100%)" in page
    assert "iris-predictor-00001 50%, iris-predictor-00002 50%" in page
    for action in ("pause", "rollback", "promote_now"):
        assert f'id="rollout-{action}"' in page

    done = act(client, rid, "pause")
    assert done.status_code == 303 and done.headers["location"] == f"/requests/{rid}?done=pause"
    after = client.get(f"/requests/{rid}?done=pause").text
    assert "The canary is paused." in after and "paused by you" in after
    assert 'id="rollout-resume"' in after

    again = act(client, rid, "pause")
    assert again.status_code == 409 and "paused already" in again.text

    assert act(client, rid, "rollback").status_code == 303
    assert svc.rollouts.view(rid).control == "rollback"
    history = svc.queries.history([svc.queries.get(rid)])[rid]
    done_by = [(h.actor, h.data["action"]) for h in history if h.kind == "rollout_controlled"]
    assert done_by == [("you", "pause"), ("you", "rollback")]


def test_approvers_see_the_canary_their_policy_asks_for_before_they_vote(svc):
    import yaml

    from tests.adapters.console.conftest import ROOT, parse_config

    raw = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
    for policy in raw["policies"]:
        policy["canary"] = {"steps": [10, 25, 50, 100], "dwell_seconds": 300}
    svc.admin.canary_analysis = True
    svc.admin.apply(parse_config(raw))
    app, _ = console_app(svc)
    client = browser(app)
    rid = submit(svc, model_name="iris-classifier", requested_by="staging-pipeline")

    page = client.get(f"/requests/{rid}").text
    planned = "On approval: a canary 10% → 25% → 50% → 100%, 5 min per step"
    assert planned in page
    assert vote(client, rid, "approve").status_code == 303
    assert planned not in client.get(f"/requests/{rid}").text  # decided: no longer a plan
