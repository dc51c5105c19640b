"""A real Prometheus for tests (Debian's ``prometheus`` package) and an exporter the test drives.

The server runs on 127.0.0.1 on a free port with a temporary storage directory, scraping the
exporter every 500 ms. Without ``/usr/bin/prometheus`` the tests that need it skip, saying how
to get it (``.ci/run`` installs it); with ``APPROVAL_BOT_REQUIRE_PROMETHEUS=1`` (CI) they fail
instead.

``QueueProxyExporter`` serves Knative queue-proxy metrics as a revision's queue-proxy exports
them (knative.dev/serving pkg/queue; docs "Serving metrics"): ``revision_request_count`` (by
``response_code_class``) and the ``revision_request_latencies`` histogram in milliseconds,
labelled ``namespace_name``, ``revision_name``. Per revision the test sets requests per second,
a 5xx ratio and a latency; the counters grow by those rates between scrapes, as real traffic
would, so ``rate()`` over a window sees what the test set.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port, http_responds, running_process

PROMETHEUS = Path(os.environ.get("APPROVAL_BOT_PROMETHEUS", "/usr/bin/prometheus"))
REQUIRE = os.environ.get("APPROVAL_BOT_REQUIRE_PROMETHEUS") == "1"
BUCKETS_MS = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)
SCRAPE_INTERVAL = "500ms"


def require_prometheus() -> None:
    if PROMETHEUS.exists():
        return
    message = (
        f"no Prometheus at {PROMETHEUS}: install Debian's (`apt-get install prometheus`; "
        ".ci/run does) to run the canary analysis tests"
    )
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Traffic:
    rps: float = 20.0
    error_ratio: float = 0.0
    latency_ms: float = 20.0
    requests: float = 0.0
    errors: float = 0.0
    buckets: tuple[float, ...] = tuple(0.0 for _ in BUCKETS_MS)
    latency_sum: float = 0.0


class QueueProxyExporter:
    """See the module docstring; ``set(revision, ...)`` starts or changes a revision's traffic,
    ``stop(revision)`` removes its series (no data)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._traffic: dict[str, Traffic] = {}
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def set(self, revision: str, **fields: float) -> None:
        with self._lock:
            self._advance()
            traffic = self._traffic.setdefault(revision, Traffic())
            for name, value in fields.items():
                setattr(traffic, name, value)

    def stop(self, revision: str) -> None:
        with self._lock:
            self._traffic.pop(revision, None)

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        for t in self._traffic.values():
            n = t.rps * elapsed
            t.requests += n
            t.errors += n * t.error_ratio
            t.latency_sum += n * t.latency_ms
            t.buckets = tuple(
                count + (n if t.latency_ms <= le else 0.0)
                for count, le in zip(t.buckets, BUCKETS_MS, strict=True)
            )

    def exposition(self) -> str:
        """The text format (https://prometheus.io/docs/instrumenting/exposition_formats/)."""
        with self._lock:
            self._advance()
            lines = ["# TYPE revision_request_count counter"]
            hist = ["# TYPE revision_request_latencies histogram"]
            for revision, t in sorted(self._traffic.items()):
                labels = f'namespace_name="{self.namespace}",revision_name="{revision}"'
                lines.append(
                    f'revision_request_count{{{labels},response_code_class="2xx"}} '
                    f"{t.requests - t.errors}"
                )
                lines.append(
                    f'revision_request_count{{{labels},response_code_class="5xx"}} {t.errors}'
                )
                for count, le in zip(t.buckets, BUCKETS_MS, strict=True):
                    hist.append(f'revision_request_latencies_bucket{{{labels},le="{le}"}} {count}')
                hist.append(f'revision_request_latencies_bucket{{{labels},le="+Inf"}} {t.requests}')
                hist.append(f"revision_request_latencies_sum{{{labels}}} {t.latency_sum}")
                hist.append(f"revision_request_latencies_count{{{labels}}} {t.requests}")
            return "\n".join(lines + hist) + "\n"


@contextmanager
def serve_exporter(exporter: QueueProxyExporter) -> Iterator[str]:
    """Serve ``/metrics`` on 127.0.0.1; yields ``host:port``."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exporter.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def prometheus_server(workdir: Path, target: str) -> Iterator[str]:
    """Debian's Prometheus scraping ``target``; yields its URL."""
    require_prometheus()
    port = free_port()
    config = workdir / "prometheus.yml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "global:\n"
        f"  scrape_interval: {SCRAPE_INTERVAL}\n"
        "scrape_configs:\n"
        "  - job_name: queue-proxy\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    url = f"http://127.0.0.1:{port}"
    command = [
        str(PROMETHEUS),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running_process(
        command,
        log_path=workdir / "prometheus.log",
        ready=lambda: http_responds(f"{url}/-/ready"),
        description=f"Prometheus at {url}",
    ):
        yield url


def query(url: str, promql: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    address = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(address, timeout=5) as response:
        return list(json.load(response)["data"]["result"])
