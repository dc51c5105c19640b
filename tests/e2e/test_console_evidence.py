"""The console's request page shows the evidence pictures, in a real browser, served by the
bot under the console's Content-Security-Policy, each with its alt text (README.md,
"Evidence"). Headless Chromium from Debian's package (tests/support/browser.py)."""

from __future__ import annotations

import hashlib

import httpx

from tests import builders
from tests.support import browser as b
from tests.support.bot_server import prepare_database, running_bot
from tests.support.pictures import b64, png

TOKEN = "bootstrap-token-for-console-evidence"


def test_the_request_page_shows_each_picture_with_its_alt_text(sqlite_url, tmp_path):
    prepare_database(sqlite_url)
    env = {"APPROVAL_BOT_API_TOKEN": TOKEN, "APPROVAL_BOT_CONSOLE_LOCAL_EMAIL": "alice@example.com"}
    pictures = [png(400, 250, rgb=(200, 30, 30)), png(300, 200, rgb=(30, 160, 60))]
    alts = ["Latency: p99 2.70 ms, within the 100 ms threshold.", "Accuracy 96.67% vs 96.67%."]
    body = builders.submission().model_dump(mode="json", exclude_none=True)
    body["evidence"] = [{"data": b64(p), "alt": a} for p, a in zip(pictures, alts, strict=True)]
    with running_bot(sqlite_url, tmp_path, env=env) as bot, b.chromium() as context:
        created = httpx.post(
            f"{bot.url}/api/v1/approvals",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
        page.goto(f"{bot.url}/requests/{created.json()['id']}")
        images = page.locator("#evidence img")
        assert images.count() == 2
        for i, (picture, alt) in enumerate(zip(pictures, alts, strict=True)):
            image = images.nth(i)
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
            )
            assert image.get_attribute("alt") == alt
            width = image.evaluate("img => img.naturalWidth")
            assert width == (400, 300)[i], "decoded by the browser at its own size"
            figure = page.locator("#evidence figcaption").nth(i).inner_text()
            assert alt in figure and f"{len(picture)} bytes" in figure
            assert hashlib.sha256(picture).hexdigest()[:12] in figure
        b.screenshot(page, "console-evidence")
        assert refused == [], f"blocked or failed: {refused}"  # the CSP let the pictures in

        # Someone the console does not let in gets no picture either.
        other = httpx.get(f"{bot.url}/requests/{created.json()['id']}/evidence/0", timeout=10)
        assert other.headers["content-type"] == "image/png"  # local: the peer is trusted
        assert httpx.get(f"{bot.url}/requests/nope/evidence/0", timeout=10).status_code == 404
        assert httpx.get(f"{bot.url}/requests/x/evidence/99", timeout=10).status_code == 404
