"""``/docs`` and ``/redoc`` load nothing from outside the bot (they used to take Swagger UI and
ReDoc from a CDN), run under a strict Content-Security-Policy, and can be turned off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from bot.bootstrap import build
from bot.entrypoints.http import create_app
from bot.settings import Settings
from tests.support import browser as b
from tests.support.bot_server import prepare_database, running_bot

REFERENCE = re.compile(r'(?:src|href|spec-url)="([^"]*)"')


def app_client(sqlite_url: str, **fields: Any) -> TestClient:
    prepare_database(sqlite_url)
    settings = Settings(
        database_url=sqlite_url, launcher="none", mlflow_tracking_uri=None, **fields
    )
    return TestClient(create_app(build(settings)), base_url="http://127.0.0.1:8080")


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with app_client(sqlite_url) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_references_nothing_outside_the_bot(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "://" not in html and "//" not in html.replace("<!doctype", ""), html
    assert "cdn" not in html.lower()
    # No inline script: every <script> has a src, and the CSP would refuse one anyway.
    assert html.count("<script") == html.count("<script src=")
    references = REFERENCE.findall(html)
    assert references, html
    for ref in references:
        url = urljoin(f"http://127.0.0.1:8080{page}", ref)
        assert urlsplit(url).netloc == "127.0.0.1:8080", ref
        got = client.get(url)
        assert got.status_code == 200, url
        if "/docs/assets/" in url:
            assert got.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_strict_csp_allows_scripts_from_this_origin_only(client, page):
    csp = client.get(page).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "http" not in csp and "*" not in csp
    assert directives["frame-ancestors"] == "'none'"


def test_swagger_ui_asks_no_outside_validator(client):
    """Swagger UI's default shows a badge from validator.swagger.io, sending it the schema's
    URL, whenever the page is not on localhost (the browser test below is)."""
    init = client.get("/docs/assets/swagger-init.js").text
    assert "validatorUrl: null" in init and "://" not in init


def test_the_assets_are_the_pinned_packages(client):
    packaged = resources.files("fastapi_offline").joinpath("static", "swagger-ui-bundle.js")
    served = client.get("/docs/assets/swagger-ui-bundle.js")
    assert served.content == packaged.read_bytes()
    assert served.headers["content-type"].startswith("text/javascript")
    assert client.get("/docs/assets/../../pyproject.toml").status_code == 404
    assert client.get("/docs/assets/nothing.js").status_code == 404


def test_the_pages_can_be_turned_off(sqlite_url):
    with app_client(sqlite_url, api_docs=False) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404
        assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404
        assert client.get("/openapi.json").status_code == 200


def test_both_pages_render_in_a_browser_that_reaches_nothing_else(sqlite_url, tmp_path):
    """Chromium with every request outside the bot refused: both UIs show the API, and the
    only errors are the CSP refusing an outside address."""
    prepare_database(sqlite_url)
    with running_bot(sqlite_url, tmp_path) as bot, b.chromium() as context:
        outside: list[str] = []

        def only_the_bot(route: Any) -> None:
            if route.request.url.startswith(bot.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_bot)
        problems: list[str] = []
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        page.goto(f"{bot.url}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "approval-bot" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector(
            ".opblock-summary-path[data-path='/api/v1/approvals']", timeout=30_000
        )
        b.screenshot(page, "swagger-ui")

        page.goto(f"{bot.url}/redoc")
        page.wait_for_selector("h1:has-text('approval-bot')", timeout=30_000)
        b.screenshot(page, "redoc")
        assert outside == []
        # ReDoc shows its maker's logo from their CDN: the CSP refuses it before any request
        # (ReDoc then leaves it out). Nothing of the bot's own may be refused or fail.
        blocked = [p for p in problems if "violates the following Content Security Policy" in p]
        assert [p for p in problems if p not in blocked] == []
        assert all(bot.url not in p and "'https://" in p for p in blocked), blocked
