"""Who may vote, and what a hostile page or value cannot do: CSRF, the trusted header,
escaping, the response headers."""

from __future__ import annotations

import pytest

from bot.adapters.console.channel import gatekeeper
from bot.adapters.console.security import CSP, CSRF_COOKIE
from bot.domain.errors import ConfigError
from tests import builders
from tests.adapters.console.conftest import (
    browser,
    console_app,
    console_settings,
    submit,
    token,
    vote,
)

PROXY = {
    "console_trusted_header": "X-Forwarded-Email",
    "console_trusted_proxies": "10.0.0.5, 192.168.7.0/24",
}


def history_kinds(svc, rid):
    return [h.kind for h in svc.queries.history([svc.queries.get(rid)])[rid]]


# -- CSRF ------------------------------------------------------------------------------------


def test_a_forged_post_is_refused_and_records_nothing(svc):
    rid = submit(svc, requested_by="alice")
    app, kicks = console_app(svc)  # counts the commits that deliver at once from here on
    before = history_kinds(svc, rid)

    # Another site's form: the browser sends no token (and, SameSite=Strict, no cookie).
    forged = browser(app).post(
        f"/requests/{rid}/vote",
        data={"vote": "approve"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "Nothing was recorded" in forged.text

    # A token that does not match the visitor's cookie.
    client = browser(app)
    client.get(f"/requests/{rid}")
    wrong = client.post(
        f"/requests/{rid}/vote",
        data={"csrf": "x" * 43, "vote": "approve"},
        headers={"Origin": "http://127.0.0.1:8080"},
    )
    assert wrong.status_code == 403

    # The right token, but sent from another origin.
    page = client.get(f"/requests/{rid}")
    cross = client.post(
        f"/requests/{rid}/vote",
        data={"csrf": token(page.text), "vote": "approve"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403 and "another site" in cross.text

    assert history_kinds(svc, rid) == before and kicks.count == 0
    assert svc.queries.get(rid).votes == []


def test_the_csrf_cookie_is_httponly_and_samesite(svc):
    app, _ = console_app(svc)
    r = browser(app).get("/")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


def test_pages_carry_a_strict_content_security_policy(svc):
    app, _ = console_app(svc)
    rid = submit(svc)
    client = browser(app)
    for path in ("/", f"/requests/{rid}", "/audit", f"/requests/{rid}/status"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP and "'unsafe-inline'" not in CSP
    page = client.get(f"/requests/{rid}").text
    assert "<script>" not in page and "<style>" not in page, "no inline code"
    assert '<script src="/console/static/console.js" defer></script>' in page
    assert (
        client.get("/console/static/console.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    assert client.get("/console/static/../channel.py").status_code == 404


# -- escaping --------------------------------------------------------------------------------


def test_user_supplied_values_render_as_text(svc):
    app, _ = console_app(svc)
    evil = "<script>alert(1)</script>"
    body = builders.submission(requested_by="alice").model_copy(
        update={
            "model_name": evil,
            "links": {"<b>x</b>": "javascript:alert(1)", "runs": "https://ok.example/?a=1&b=<2>"},
        }
    )
    rid = svc.commands.submit(body).request.id
    client = browser(app)
    r = vote(client, rid, "reject", comment='"><img src=x onerror=alert(2)>')
    assert r.status_code == 303
    for path in (f"/requests/{rid}", "/", "/audit"):
        html = client.get(path).text
        assert evil not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<img src=x" not in html, path
    page = client.get(f"/requests/{rid}").text
    assert "javascript:" not in page, "only http(s) links are shown"
    assert 'href="https://ok.example/?a=1&amp;b=&lt;2&gt;"' in page
    assert evil in client.get(f"/requests/{rid}/status").json()["html"]["live-status"].replace(
        "&lt;", "<"
    ).replace("&gt;", ">")


# -- who may vote ------------------------------------------------------------------------------


def test_without_an_identity_voting_is_off_and_the_page_says_how_to_turn_it_on(svc):
    app, _ = console_app(svc, console_local_email=None)
    rid = submit(svc, requested_by="alice")
    local = browser(app).get(f"/requests/{rid}")
    assert local.status_code == 200, "reading needs no identity when no proxy is configured"
    assert "Voting is off here" in local.text and "APPROVAL_BOT_CONSOLE_LOCAL_EMAIL" in local.text
    assert 'id="approve-form"' not in local.text

    remote = browser(console_app(svc)[0], peer="10.1.2.3").get(f"/requests/{rid}")
    assert "APPROVAL_BOT_CONSOLE_TRUSTED_HEADER" in remote.text
    assert 'id="approve-form"' not in remote.text

    # Even with a valid token, a POST without an identity is refused.
    client = browser(console_app(svc)[0], peer="10.1.2.3")
    page = client.get(f"/requests/{rid}")
    r = client.post(
        f"/requests/{rid}/vote",
        data={"csrf": _cookie(client), "vote": "approve"},
        headers={"Origin": "http://127.0.0.1:8080"},
    )
    assert page.status_code == 200 and r.status_code == 403
    assert svc.queries.get(rid).votes == []


def test_the_local_person_needs_a_loopback_host_name(svc):
    """A page that rebinds its DNS name to 127.0.0.1 reaches the console from this machine,
    but with its own Host: it is not the local person."""
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    page = browser(app, host="evil.example:8080").get(f"/requests/{rid}")
    assert 'id="approve-form"' not in page.text
    assert "open the console as http://127.0.0.1" in page.text
    assert 'id="approve-form"' in browser(app, host="localhost:8080").get(f"/requests/{rid}").text


def test_a_forwarded_request_is_not_the_local_person(svc):
    """A reverse proxy on this machine connects from 127.0.0.1 for everybody."""
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    page = browser(app).get(f"/requests/{rid}", headers={"X-Forwarded-For": "203.0.113.9"})
    assert 'id="approve-form"' not in page.text
    assert "this request was forwarded (x-forwarded-for)" in page.text


def test_the_trusted_header_from_a_trusted_proxy_names_the_person(svc):
    app, _ = console_app(svc, **PROXY)
    rid = submit(svc, requested_by="bob")
    proxy = browser(app, peer="192.168.7.20", host="approvals.example.com")
    proxy.headers["X-Forwarded-Email"] = "Alice@Example.com"
    page = proxy.get(f"/requests/{rid}")
    assert "alice" in page.text and 'id="approve-form"' in page.text
    r = proxy.post(
        f"/requests/{rid}/vote",
        data={"csrf": token(page.text), "vote": "approve"},
        headers={"Origin": "https://approvals.example.com"},
    )
    assert r.status_code == 403, "the Origin is not this console's (it is http here)"
    r = proxy.post(
        f"/requests/{rid}/vote",
        data={"csrf": token(page.text), "vote": "approve"},
        headers={"Origin": "http://approvals.example.com"},
    )
    assert r.status_code == 303
    (cast,) = svc.queries.get(rid).votes
    assert (cast.person, cast.channel) == ("alice", "console")


def test_the_trusted_header_is_ignored_from_other_addresses(svc):
    app, _ = console_app(svc, **PROXY)
    rid = submit(svc, requested_by="bob")
    outsider = browser(app, peer="203.0.113.9")
    outsider.headers["X-Forwarded-Email"] = "alice@example.com"
    r = outsider.get(f"/requests/{rid}")
    assert r.status_code == 403
    assert "not in APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES" in r.text
    assert outsider.post(f"/requests/{rid}/vote", data={"vote": "approve"}).status_code == 403
    assert svc.queries.get(rid).votes == []


def test_the_trusted_header_is_ignored_unless_enabled(svc):
    """Without APPROVAL_BOT_CONSOLE_TRUSTED_HEADER, nobody can claim another email by header;
    and a request carrying it was relayed by a proxy, so it is not the local person either
    (any proxy header is enough: test_outage_and_relays.py)."""
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="bob")
    client = browser(app)
    client.headers["X-Forwarded-Email"] = "alice@example.com"
    page = client.get(f"/requests/{rid}")
    assert 'id="approve-form"' not in page.text
    assert "this request was forwarded (x-forwarded-email)" in page.text
    form = {"csrf": client.cookies[CSRF_COOKIE], "vote": "approve"}
    sent = client.post(
        f"/requests/{rid}/vote", data=form, headers={"Origin": "http://127.0.0.1:8080"}
    )
    assert sent.status_code == 403 and "Voting is off" in sent.text
    assert svc.queries.get(rid).votes == []


def test_a_proxy_that_names_an_unknown_email_gets_no_access(svc):
    app, _ = console_app(svc, **PROXY)
    proxy = browser(app, peer="10.0.0.5")
    proxy.headers["X-Forwarded-Email"] = "mallory@example.com"
    r = proxy.get("/")
    assert r.status_code == 403 and "mallory@example.com is not enrolled" in r.text
    missing = browser(app, peer="10.0.0.5").get("/")
    assert missing.status_code == 403 and "did not send x-forwarded-email" in missing.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"console_trusted_header": "X-Forwarded-Email"}, "APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES"),
        ({"console_trusted_proxies": "10.0.0.5"}, "APPROVAL_BOT_CONSOLE_TRUSTED_HEADER is not"),
    ],
)
def test_a_half_configured_proxy_stops_the_start(settings, message):
    with pytest.raises(ConfigError, match=message):
        gatekeeper(console_settings(**settings))


def test_a_bad_proxy_address_is_one_line_naming_the_variable(monkeypatch, tmp_path):
    from bot.adapters.registry import read_settings as load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES", "10.0.0.5, proxy.internal")
    with pytest.raises(
        ConfigError, match=r"APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES: 'proxy\.internal'"
    ):
        load_settings()


def _cookie(client) -> str:
    return client.cookies[CSRF_COOKIE]
