"""A divergence's alert on the console's index (docs/watch.md): what differs, and the Deploy
the champion / Move the alias back forms, CSRF-checked and decided by the same rules as any
channel; once someone asked, the alert says who and the forms go."""

from __future__ import annotations

from tests import builders
from tests.adapters.console.conftest import browser, console_app, token


def act(client, did: str, action: str, csrf: str | None = None):
    data = {"csrf": csrf if csrf is not None else token(client.get("/").text), "action": action}
    origin = str(client.base_url).rstrip("/")
    return client.post(f"/divergences/{did}", data=data, headers={"Origin": origin})


def test_the_index_shows_the_alert_and_its_forms_take_one_way_out(svc):
    app, _ = console_app(svc)
    client = browser(app)
    did = builders.diverge(svc)

    page = client.get("/").text
    csrf = token(page)  # the session's, for a form the page no longer shows
    assert "Serving and the registry disagree: iris-classifier" in page
    assert f'id="watch-deploy_champion-{did}"' in page and f'id="watch-alias_back-{did}"' in page

    assert act(client, did, "deploy_champion", csrf="forged").status_code == 403
    assert act(client, did, "fly_away").status_code == 422
    assert act(client, "0123456789ab", "deploy_champion").status_code == 404
    assert svc.watch.view(did).asked is None

    done = act(client, did, "deploy_champion")
    assert done.status_code == 303 and done.headers["location"] == "/?done=deploy_champion"
    after = client.get("/?done=deploy_champion").text
    assert "A promotion run deploys the champion" in after
    assert "you asked to deploy the champion" in after
    assert f'id="watch-alias_back-{did}"' not in after, "one way out at a time"

    again = act(client, did, "alias_back", csrf=csrf)
    assert again.status_code == 409 and "you asked already to deploy the champion" in again.text
    with svc.uow(readonly=True) as uow:
        asked = [r for r in uow.audit.records(None) if r.kind == "serving_deploy_champion"]
    assert [(r.actor, r.data["champion_version"]) for r in asked] == [("you", "2")]
