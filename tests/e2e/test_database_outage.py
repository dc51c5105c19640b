"""PostgreSQL becomes unreachable under a stream of submissions, then comes back.

A TCP proxy between the bot and the shared PostgreSQL server is cut and restored (the
server itself is never stopped). The bot must answer 503 with ``Retry-After`` and the JSON
error shape while the database is away, log one warning per kind of failure instead of a
traceback per request or per scheduler tick, lose nothing it acknowledged, and recover
without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.ports.store import RequestFilter
from tests import builders
from tests.conftest import temporary_pg_database
from tests.support.bot_server import BotServer, prepare_database, running_bot, service_for
from tests.support.processes import wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

TOKEN = "bootstrap-token-for-the-outage-test-01"
SWEEP_SECONDS = 0.3
DEADLINE = 60.0


@dataclass
class Stream:
    """Submissions from a few threads, each a new staging run, until stopped."""

    url: str
    answers: list[tuple[float, int, dict, dict]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    counter: int = 0

    def run(self) -> None:
        with httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            while not self.stop.is_set():
                with self.lock:
                    self.counter += 1
                    n = self.counter
                body = builders.submission(model_name=f"outage-{n}", staging_run_id=f"s-{n}")
                try:
                    response = client.post(
                        "/api/v1/approvals",
                        content=body.model_dump_json(),
                        headers={"Content-Type": "application/json"},
                    )
                except httpx.HTTPError as exc:  # the bot itself must stay reachable
                    payload, status, headers = {"transport": str(exc)}, -1, {}
                else:
                    status, headers = response.status_code, dict(response.headers)
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = {"text": response.text}
                with self.lock:
                    self.answers.append((time.monotonic(), status, payload, headers))

    def since(self, moment: float) -> list[tuple[float, int, dict, dict]]:
        with self.lock:
            return [a for a in self.answers if a[0] >= moment]


@pytest.fixture
def outage(pg_admin_url, tmp_path) -> Iterator[tuple[BotServer, TcpProxy, str]]:
    with temporary_pg_database(pg_admin_url) as direct:
        prepare_database(direct)
        u = make_url(direct)
        with TcpProxy((u.host or "127.0.0.1", u.port or 5432)) as proxy:
            proxied = u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
            env = {
                "APPROVAL_BOT_API_TOKEN": TOKEN,
                "APPROVAL_BOT_SWEEP_SECONDS": str(SWEEP_SECONDS),
            }
            with running_bot(proxied, tmp_path, env=env) as bot:
                yield bot, proxy, direct


def test_a_database_outage_is_503_then_recovers_without_losing_anything(outage):
    bot, proxy, direct = outage
    stream = Stream(bot.url)
    threads = [threading.Thread(target=stream.run, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(
            lambda: sum(1 for a in stream.answers if a[1] == 201) >= 10,
            timeout=DEADLINE,
            description="submissions before the outage",
        )
        cut_at = time.monotonic()
        proxy.cut()
        # The outage lasts at least 20 refused submissions and several scheduler ticks
        # (each scans and sweeps the outbox, and must not log each time).
        wait_for(
            lambda: sum(1 for a in stream.since(cut_at) if a[1] != 201) >= 20
            and time.monotonic() - cut_at > 8 * SWEEP_SECONDS,
            timeout=DEADLINE,
            description="20 submissions refused during the outage",
        )
        assert httpx.get(f"{bot.url}/readyz", timeout=30).status_code == 503
        restored_at = time.monotonic()
        proxy.restore()
        wait_for(
            lambda: sum(1 for a in stream.since(restored_at) if a[1] == 201) >= 5,
            timeout=DEADLINE,
            description="submissions to succeed again after the outage",
        )
    finally:
        stream.stop.set()
        for t in threads:
            t.join(timeout=DEADLINE)

    assert bot.process.poll() is None, "the bot restarted or died"
    statuses = {a[1] for a in stream.answers}
    assert statuses <= {200, 201, 503}, statuses
    refused = [a for a in stream.answers if a[1] == 503]
    assert len(refused) >= 20
    for _, _, payload, headers in refused:
        assert payload["error"] == "unavailable", payload
        assert "retry" in payload["message"]
        assert int(headers["retry-after"]) > 0

    acknowledged = {a[2]["id"] for a in stream.answers if a[1] in (200, 201)}
    with service_for(direct) as svc:
        stored = {r.id for r in svc.queries.search(RequestFilter())}
    assert acknowledged <= stored, f"acknowledged but lost: {acknowledged - stored}"

    log = bot.log()
    assert "Traceback" not in log
    # One line per kind of failure (bot/adapters/db/health.py). A cut TCP proxy shows psycopg's
    # "server closed the connection unexpectedly" while connecting and while reading, then
    # "Connection refused"; a pool that ran dry its timeout. (The audit key's warning at start
    # says "database" too, and is not one of them.)
    warnings = [line for line in log.splitlines() if " WARNING bot.db " in line]
    assert 1 <= len(warnings) <= 4, "\n".join(warnings)
    assert len({w.split("] ", 1)[1] for w in warnings}) == len(warnings), warnings
    assert "database is reachable again" in log
