"""Prometheus metrics: per-process counters, plus gauges read from the database at scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.domain.effects import is_chat
from bot.domain.model import ApprovalRequest, State
from bot.domain.names import OutboxState
from bot.domain.outbox import OutboxItem
from bot.ports.store import StoreUnavailable
from bot.service.queries import Counts

BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 7 * 86400)


class _DatabaseGauges(Collector):
    def __init__(self, counts: Callable[[], Counts]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("approval_bot_database_up", "1 when the database answers a scrape")
        try:
            counts = self.counts()
        except StoreUnavailable:  # the process still reports what it knows; nothing logged
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        states, outbox = counts.requests, counts.outbox
        pending = GaugeMetricFamily(
            "approval_bot_pending_requests", "Requests waiting for a decision"
        )
        pending.add_metric([], states.get(State.PENDING.value, 0))
        yield pending
        by_state = GaugeMetricFamily("approval_bot_requests", "Requests by state", labels=["state"])
        for s in State:
            by_state.add_metric([s.value], states.get(s.value, 0))
        yield by_state
        backlog = GaugeMetricFamily(
            "approval_bot_outbox_backlog", "Effects not delivered yet (pending or being delivered)"
        )
        backlog.add_metric(
            [], outbox.get(OutboxState.PENDING, 0) + outbox.get(OutboxState.DELIVERING, 0)
        )
        yield backlog
        waiting = GaugeMetricFamily(
            "approval_bot_outbox_waiting",
            "Effects waiting for a system that is not configured; see `approval-bot show`",
        )
        waiting.add_metric([], outbox.get(OutboxState.WAITING, 0))
        yield waiting
        dead = GaugeMetricFamily(
            "approval_bot_outbox_dead_letters",
            "Effects that failed for good; see `approval-bot outbox list`",
        )
        dead.add_metric([], outbox.get(OutboxState.DEAD, 0))
        yield dead
        diverged = GaugeMetricFamily(
            "approval_bot_serving_diverged",
            "1 while a model's serving and its @champion disagree, 0 after (docs/watch.md)",
            labels=["model"],
        )
        for model, is_open in sorted(counts.diverged.items()):
            diverged.add_metric([model], 1 if is_open else 0)
        yield diverged


class Metrics:
    def __init__(self, counts: Callable[[], Counts]) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "approval_bot_decisions",
            "Decisions made by this process",
            ["outcome"],
            registry=self.registry,
        )
        self.time_to_decision = Histogram(
            "approval_bot_time_to_decision_seconds",
            "From submission to decision, for decisions made by this process",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.channel_errors = Counter(
            "approval_bot_channel_api_errors",
            "Failed calls to a chat channel's API",
            ["channel"],
            registry=self.registry,
        )
        self.effects = Counter(
            "approval_bot_effects",
            "Effect delivery attempts by outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "approval_bot_scheduler_runs", "Scheduler job runs", ["job"], registry=self.registry
        )
        self.registry.register(_DatabaseGauges(counts))

    def decided(self, request: ApprovalRequest) -> None:
        if request.decision is None or request.decided_at is None:
            return
        self.decisions.labels(request.decision.value).inc()
        self.time_to_decision.observe(
            max(0.0, (request.decided_at - request.created_at).total_seconds())
        )

    def effect(self, item: OutboxItem, outcome: str) -> None:
        self.effects.labels(item.kind, outcome).inc()
        if is_chat(item.kind) and outcome not in (OutboxState.DELIVERED, OutboxState.WAITING):
            self.channel_errors.labels(str(item.payload.get("channel", "?"))).inc()
