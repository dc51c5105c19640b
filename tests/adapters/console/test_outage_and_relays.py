"""The console during a database outage (an HTML page, 503, Retry-After), its cookie behind a
TLS-terminating proxy (Secure when the public URL is https), and who counts as the local
person (only a connection that no proxy relayed: any proxy header is enough to say no)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from bot.adapters.console.channel import gatekeeper
from bot.adapters.console.pages import RunLinks
from bot.adapters.console.routes import Console, mount
from bot.adapters.console.security import CSP, CSRF_COOKIE
from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db import SqlUnitOfWorkFactory, make_engine
from bot.adapters.registry import identity_kinds
from bot.service import Services, build_services
from tests.adapters.console.conftest import LOCAL, browser, console_app, submit, token
from tests.conftest import temporary_pg_database
from tests.support.bot_server import prepare_database
from tests.support.processes import wait_for
from tests.support.tcp_proxy import TcpProxy

# -- the local person: no proxy header at all ----------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Via", "1.1 nginx"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Prefix", "/bot"),
        ("X-Forwarded-Server", "edge"),
        ("X-Forwarded-Email", "mallory@example.com"),
        ("Forwarded", "proto=https"),
        ("X-Real-IP", "203.0.113.7"),
        ("True-Client-IP", "203.0.113.7"),
        ("CF-Connecting-IP", "203.0.113.7"),
        ("X-Original-Forwarded-For", "203.0.113.7"),
        ("X-Envoy-External-Address", "203.0.113.7"),
    ],
)
def test_any_proxy_header_from_loopback_is_not_the_local_person(svc, header, value):
    """A proxy on the bot's own host that sends only ``Via`` or ``X-Forwarded-Proto`` (no
    ``X-Forwarded-For``) used to make everyone it relays the local person."""
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    page = browser(app).get(f"/requests/{rid}", headers={header: value})
    assert page.status_code == 200
    assert 'id="approve-form"' not in page.text
    assert f"this request was forwarded ({header.lower()})" in page.text
    assert LOCAL not in page.text.split('id="who"', 1)[1].split("</span>", 1)[0]


def test_a_direct_loopback_connection_is_still_the_local_person(svc):
    app, _ = console_app(svc)
    rid = submit(svc, requested_by="alice")
    page = browser(app).get(f"/requests/{rid}", headers={"Accept-Language": "en"})
    assert 'id="approve-form"' in page.text and "the local person" in page.text


# -- Secure cookies behind HTTPS -----------------------------------------------------------


def console_at(svc: Services, public_url: str) -> FastAPI:
    app = FastAPI()
    mount(
        app,
        Console(
            services=svc,
            gatekeeper=gatekeeper(ConsoleSettings(local_email=LOCAL)),
            public_url=public_url,
            links=RunLinks(kfp_ui=None, local_root="/tmp/kfp-local"),
        ),
    )
    return app


def csrf_cookie(response) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(CSRF_COOKIE)]
    return header


def test_the_cookie_is_secure_when_the_public_url_is_https(svc):
    """TLS ends at the proxy: the request reaches the bot as http, with X-Forwarded-Proto."""
    app = console_at(svc, "https://approvals.example.com")
    page = browser(app, peer="10.0.0.5").get("/", headers={"X-Forwarded-Proto": "https"})
    attributes = [a.strip().lower() for a in csrf_cookie(page).split(";")]
    assert "secure" in attributes
    assert "httponly" in attributes and "samesite=strict" in attributes


def test_the_cookie_is_not_secure_for_a_plain_http_console(svc):
    # A Secure cookie is never sent back over http: `make run`'s console would lose its forms.
    page = browser(console_at(svc, "http://127.0.0.1:8080")).get("/")
    assert "secure" not in [a.strip().lower() for a in csrf_cookie(page).split(";")]


# -- the database outage -------------------------------------------------------------------


@pytest.fixture
def cut_database(pg_admin_url) -> Iterator[tuple[Services, TcpProxy]]:
    """The example config on PostgreSQL, reached through a proxy the test can cut."""
    with temporary_pg_database(pg_admin_url) as direct:
        prepare_database(direct)
        u = make_url(direct)
        with TcpProxy((u.host or "127.0.0.1", u.port or 5432)) as proxy:
            proxied = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            engine = make_engine(proxied)
            try:
                yield (
                    build_services(
                        SqlUnitOfWorkFactory(engine),
                        channels=("console",),
                        identities=identity_kinds(),
                    ),
                    proxy,
                )
            finally:
                engine.dispose()


@pytest.mark.postgres
def test_an_outage_is_an_html_page_with_retry_after(cut_database):
    svc, proxy = cut_database
    app, kicks = console_app(svc, console_local_email="alice@example.com")
    client = browser(app)
    rid = submit(svc, requested_by="bob")
    form = {"csrf": token(client.get(f"/requests/{rid}").text), "vote": "approve"}

    kicked = kicks.count  # the submission's own, after its commit
    proxy.cut()
    pages = [client.get(path) for path in ("/", f"/requests/{rid}", "/audit", "/audit.csv")]
    pages.append(
        client.post(f"/requests/{rid}/vote", data=form, headers={"Origin": "http://127.0.0.1:8080"})
    )
    for page in pages:
        assert page.status_code == 503, page.request.url
        assert page.headers["retry-after"] == "5"
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP
        assert "<h1>The database is unavailable</h1>" in page.text
        assert "not recorded" in page.text
    assert kicks.count == kicked  # nothing committed, nothing to deliver

    proxy.restore()
    wait_for(
        lambda: client.get("/").status_code == 200,
        timeout=30,
        description="the console to answer again once the database is back",
    )
    assert svc.queries.get(rid).votes == [], "the vote sent during the outage was not cast"
