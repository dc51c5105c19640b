"""Headless Chromium for tests: Debian's `chromium` package, driven by Playwright for Python.

Nothing is downloaded: Playwright (a pip package that carries its driver) is pointed at
``/usr/bin/chromium`` with ``executable_path`` (never ``playwright install``). Without the
browser the tests that need it skip with a message saying how to get it; with
``APPROVAL_BOT_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("APPROVAL_BOT_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("APPROVAL_BOT_REQUIRE_BROWSER") == "1"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _missing(message: str) -> None:
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium(**context: Any) -> Iterator[Any]:
    """A fresh browser profile (its own user-data-dir); yields Playwright's BrowserContext."""
    if not CHROMIUM.exists():
        _missing(
            f"no Chromium at {CHROMIUM}: install Debian's browser (`apt-get install chromium "
            "chromium-driver`; `make test` does it when run as root) to run the browser tests"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is missing: run `make venv`")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1180, "height": 900},
            accept_downloads=True,
            **context,
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/browser/ (ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
