"""Canary analysis: Prometheus queries over the dwell window, judged against limits.

Each check is a PromQL query with ``$namespace``, ``$revision`` and ``$window`` in it, run for
the canary revision and for the previous (rolled-out) one. The defaults read Knative's
queue-proxy metrics (``revision_request_count`` with ``response_code_class``, and the
``revision_request_latencies`` histogram in milliseconds; knative.dev/serving
pkg/queue/stats / docs "Serving metrics"), which every Serverless predictor pod exports.

A check fails when the canary's value is above ``max``, or above
``previous × previous_factor + previous_margin``. **No data is a failure**: an empty answer
or NaN (no requests reached the canary, the metric is not scraped, the query is wrong) never
passes, for the canary or for the previous revision it is compared with.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from string import Template
from typing import Any

from pipelines.errors import ConfigurationError

log = logging.getLogger(__name__)

QUERY_TIMEOUT_SECONDS = 10.0
_SELECTOR = 'namespace_name="$namespace",revision_name="$revision"'
DEFAULT_CHECKS: dict[str, dict[str, Any]] = {
    "error_ratio": {
        # "or vector(0)": no 5xx series means no errors; no requests at all stays no data
        "query": (
            f'(sum(rate(revision_request_count{{{_SELECTOR},response_code_class="5xx"}}'
            f"[$window])) or vector(0)) / sum(rate(revision_request_count{{{_SELECTOR}}}"
            "[$window]))"
        ),
        "max": 0.05,
        "previous_factor": 1.0,
        "previous_margin": 0.01,
    },
    "p99_latency_ms": {
        "query": (
            "histogram_quantile(0.99, sum by (le) (rate(revision_request_latencies_bucket"
            f"{{{_SELECTOR}}}[$window])))"
        ),
        "max": 500.0,
        "previous_factor": 1.5,
        "previous_margin": 50.0,
    },
}
_KEYS = {"query", "max", "previous_factor", "previous_margin"}


@dataclass(frozen=True)
class Check:
    name: str
    query: str
    max: float
    previous_factor: float
    previous_margin: float


def parse_checks(text: str) -> tuple[Check, ...]:
    """``""`` → the defaults; else a JSON object ``{name: {query, max, previous_factor,
    previous_margin}}`` whose entries replace (or, for a default's name, override fields of)
    the defaults. A ConfigurationError names what is wrong."""
    try:
        given = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"canary_checks is not JSON: {error}") from error
    if not isinstance(given, dict):
        raise ConfigurationError("canary_checks must be a JSON object of checks by name")
    merged = {name: dict(check) for name, check in DEFAULT_CHECKS.items()}
    for name, fields in given.items():
        if not isinstance(fields, dict) or not set(fields) <= _KEYS:
            raise ConfigurationError(
                f"canary check {name!r} must be an object with {sorted(_KEYS)}, got {fields!r}"
            )
        merged[name] = {**merged.get(name, {}), **fields}
    checks = []
    for name, fields in merged.items():
        if set(fields) != _KEYS:
            raise ConfigurationError(f"canary check {name!r} needs all of {sorted(_KEYS)}")
        checks.append(
            Check(
                name,
                str(fields["query"]),
                float(fields["max"]),
                float(fields["previous_factor"]),
                float(fields["previous_margin"]),
            )
        )
    return tuple(checks)


@dataclass(frozen=True)
class Measurement:
    check: str
    canary: float | None
    previous: float | None
    limit: float | None
    passed: bool
    reason: str

    def line(self) -> str:
        def show(value: float | None) -> str:
            return "no data" if value is None else f"{value:.4g}"

        verdict = "ok" if self.passed else f"FAILED: {self.reason}"
        return (
            f"{self.check}: canary {show(self.canary)}, previous {show(self.previous)}, "
            f"limit {show(self.limit)}: {verdict}"
        )


@dataclass(frozen=True)
class Result:
    passed: bool
    measurements: tuple[Measurement, ...]

    def summary(self) -> str:
        return "; ".join(m.line() for m in self.measurements)

    def as_json(self) -> list[dict[str, Any]]:
        return [m.__dict__ | {"line": m.line()} for m in self.measurements]


class Prometheus:
    """Instant queries against ``GET /api/v1/query`` (the Prometheus HTTP API)."""

    def __init__(self, url: str) -> None:
        if not url.strip():
            raise ConfigurationError(
                "a canary needs prometheus_url (the Prometheus that scrapes the predictor's "
                "queue-proxy); see docs/kserve.md"
            )
        self.url = url.rstrip("/")

    def value(self, query: str) -> float | None:
        """The query's single value now; None for no data (empty, NaN, or several series)."""
        import httpx

        response = httpx.get(
            f"{self.url}/api/v1/query", params={"query": query}, timeout=QUERY_TIMEOUT_SECONDS
        )
        payload = response.json()
        if response.status_code != 200 or payload.get("status") != "success":
            raise ConfigurationError(
                f"Prometheus refused the query {query!r}: {payload.get('error') or response.text}"
            )
        result = payload["data"]["result"]
        if payload["data"]["resultType"] == "scalar":
            result = [{"value": result}]
        if len(result) != 1:
            return None
        number = float(result[0]["value"][1])
        return None if math.isnan(number) else number


def analyze(
    prometheus: Prometheus,
    checks: tuple[Check, ...],
    *,
    namespace: str,
    canary: str,
    previous: str | None,
    window_seconds: float,
) -> Result:
    """Run every check for ``canary`` and ``previous`` over the last ``window_seconds``."""
    window = f"{max(math.ceil(window_seconds), 1)}s"
    measurements = []
    for check in checks:
        template = Template(check.query)

        def run(revision: str | None, template: Template = template) -> float | None:
            if not revision:
                return None
            query = template.substitute(namespace=namespace, revision=revision, window=window)
            return prometheus.value(query)

        measurements.append(judge(check, run(canary), run(previous)))
    result = Result(all(m.passed for m in measurements), tuple(measurements))
    log.info("canary analysis of %s: %s", canary, result.summary())
    return result


def judge(check: Check, canary: float | None, previous: float | None) -> Measurement:
    if canary is None:
        return Measurement(check.name, None, previous, check.max, False, "no data for the canary")
    if canary > check.max:
        return Measurement(check.name, canary, previous, check.max, False, f"above {check.max:g}")
    if previous is None:
        reason = "no data for the previous revision to compare with"
        return Measurement(check.name, canary, None, check.max, False, reason)
    relative = previous * check.previous_factor + check.previous_margin
    limit = min(check.max, relative)
    if canary > relative:
        reason = f"above the previous revision's {previous:.4g} × {check.previous_factor:g} + "
        reason += f"{check.previous_margin:g} = {relative:.4g}"
        return Measurement(check.name, canary, previous, limit, False, reason)
    return Measurement(check.name, canary, previous, limit, True, "")
