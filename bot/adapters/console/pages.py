"""What the console's pages show, read from the service and rendered with Jinja2.

Templates (``templates/``) are autoescaped: every value from a request, a person or a
config is text, never markup. No function here changes anything; votes go through
``routes.py`` to ``services.commands.vote`` like every other channel's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.adapters.console import SPEC
from bot.domain.audit import AuditRecord
from bot.domain.effects import ARCHIVE_CHALLENGER
from bot.domain.evidence import EvidenceInfo
from bot.domain.model import ApprovalRequest, Person, Policy, State
from bot.domain.names import EventKind, OutboxState
from bot.domain.outbox import OutboxItem
from bot.ports.store import RequestFilter
from bot.service.audit import signing_note
from bot.service.chat.rich import Line, plain
from bot.service.chat.rollout import planned_line, rollout_buttons, rollout_lines
from bot.service.chat.texts import veto_window
from bot.service.identity import Identity
from bot.service.queries import Queries
from bot.service.views import effect_detail, event_summary, launch_problem

# States after which nothing more happens to a request (the page stops refreshing).
FINAL = frozenset(
    {
        State.REJECTED,
        State.EXPIRED,
        State.SUPERSEDED,
        State.CANCELLED,
        State.PROMOTED,
        State.PROMOTION_FAILED,
    }
)
# What each state means, in words (the pill's title and the status line).
MEANING = {
    State.PENDING: "waiting for votes",
    State.APPROVED: "approved; the promotion has not started",
    State.PROMOTING: "approved; the promotion is running",
    State.PROMOTED: "approved and promoted",
    State.PROMOTION_FAILED: "approved, but the promotion failed",
    State.REJECTED: "rejected",
    State.EXPIRED: "expired without a decision",
    State.SUPERSEDED: "superseded by a newer request",
    State.CANCELLED: "cancelled",
}
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)

env = Environment(
    loader=PackageLoader("bot.adapters.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(value: datetime | None) -> str:
    """To the second: the steps of a promotion are seconds apart."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "–"


def number(value: float) -> str:
    return f"{value:g}"


PAST = {"approve": "approved", "reject": "rejected"}

env.filters["when"] = when
env.filters["number"] = number
env.globals["meaning"] = MEANING
env.globals["past"] = PAST
env.globals["signing_note"] = signing_note


def render(template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


# -- the request page ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gate:
    name: str
    value: float
    op: str
    threshold: float
    passed: bool
    no_champion: bool
    champion: str | None  # "v2": the champion the threshold was measured on, when known


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a request's timeline, numbered as everywhere else (`show`, the chats'
    `audit`, `audit verify`): by its audit log sequence number."""

    seq: int
    at: datetime
    kind: str
    actor: str
    summary: str


@dataclass(frozen=True, slots=True)
class Promotion:
    run_id: str | None
    run_url: str | None
    run_note: str | None  # where a run without a UI keeps its record
    champion: str | None  # the @champion version after a successful promotion
    archived: str | None  # the champion it replaced, when the run says so
    failure: str | None
    detail: str | None


@dataclass(slots=True)
class RequestView:
    request: ApprovalRequest
    policy: Policy | None
    gates: list[Gate]
    links: list[tuple[str, str]]
    timeline: list[Step]
    effects: list[tuple[str, str, str]]  # kind, state, detail
    promotion: Promotion | None
    settled: bool
    votes_by: dict[str, str] = field(default_factory=dict)
    launch_problem: str | None = None  # views.launch_problem, as every channel shows it
    challenger: str | None = None  # what became of a rejected or expired challenger in MLflow
    window: str | None = None  # the veto window, in every channel's words (chat/texts.py)
    evidence: list[EvidenceInfo] = field(default_factory=list)  # the pictures, shown as sent
    rollout: list[str] = field(default_factory=list)  # a canary, as chat/rollout.py words it
    rollout_actions: list[tuple[str, str]] = field(default_factory=list)  # (action, label)

    @property
    def stamp(self) -> str:
        """Changes whenever anything the live part of the page shows changes."""
        parts = [self.request.state.value, str(len(self.timeline))]
        parts += [f"{k}:{s}:{d}" for k, s, d in self.effects]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def timeline(records: Sequence[AuditRecord]) -> list[Step]:
    return [Step(r.seq, r.at, r.kind, r.actor, event_summary(r)) for r in records]


def challenger_fate(
    request: ApprovalRequest, records: Sequence[AuditRecord], effects: Sequence[OutboxItem]
) -> str | None:
    """A rejected or expired challenger is archived: what that did in MLflow, in its words
    (``@challenger`` taken off, ``@rejected`` or ``@archived`` set), or why not yet."""
    item = next((i for i in effects if i.kind == ARCHIVE_CHALLENGER), None)
    if item is None:
        return None
    version = f"v{request.model_version}"
    alias = f"@{item.payload.get('alias') or 'archived'}"
    moved = next((r for r in reversed(records) if r.kind == EventKind.CHALLENGER_MOVED_ON), None)
    if moved is not None:
        now = moved.data.get("now_points_at")
        return (
            f"Not archived: @challenger had moved on to {f'v{now}' if now else 'no version'}, "
            f"so {version}'s aliases were left as they were."
        )
    if item.state is OutboxState.DELIVERED:
        return f"Challenger archived: @challenger taken off {version} in MLflow, now {alias}."
    if item.state in (OutboxState.PENDING, OutboxState.DELIVERING) and not item.last_error:
        return f"Archiving the challenger: {version} gets {alias} in MLflow for @challenger."
    return f"The challenger is not archived yet: see {ARCHIVE_CHALLENGER} below."


def champion_before(queries: Queries, request: ApprovalRequest) -> str | None:
    """The version promoted by the newest earlier request for the model, if the bot knows one."""
    found = queries.search(
        RequestFilter(
            model=request.model_name,
            state=State.PROMOTED,
            until=request.created_at,
            newest_first=True,
            limit=1,
        )
    )
    return f"v{found[0].model_version}" if found else None


def planned(request: ApprovalRequest) -> tuple[Line, ...]:
    line = planned_line(request)
    return (line,) if line is not None else ()


def _promotion(
    request: ApprovalRequest, records: Sequence[AuditRecord], links: RunLinks
) -> Promotion | None:
    if request.state not in (State.PROMOTING, State.PROMOTED, State.PROMOTION_FAILED):
        return None
    finished = next((r for r in reversed(records) if r.kind == EventKind.PROMOTION_FINISHED), None)
    detail = str(finished.data.get("detail") or "") if finished else None
    run_id = request.promotion_run_id
    return Promotion(
        run_id=run_id,
        run_url=links.run_url(run_id),
        run_note=links.run_note(run_id),
        champion=f"v{request.model_version}" if request.state is State.PROMOTED else None,
        archived=_output(detail, "archived_version"),
        failure=detail if request.state is State.PROMOTION_FAILED else None,
        detail=detail,
    )


def _output(detail: str | None, name: str) -> str | None:
    """An output the local launcher lists in its detail (``archived_version=1, …``)."""
    found = re.search(rf"\b{name}=([^,\s]+)", detail or "")
    return f"v{found.group(1)}" if found else None


@dataclass(frozen=True, slots=True)
class RunLinks:
    """Where people look at promotion runs: a KFP UI, or the local launcher's records."""

    kfp_ui: str | None
    local_root: str | None

    def run_url(self, run_id: str | None) -> str | None:
        if not run_id or not self.kfp_ui or run_id.startswith("local-"):
            return None
        return f"{self.kfp_ui.rstrip('/')}/#/runs/details/{run_id}"

    def run_note(self, run_id: str | None) -> str | None:
        if run_id and run_id.startswith("local-") and self.local_root:
            return f"a kfp.local run; its record is {self.local_root}/runs/{run_id}.json"
        return None


def request_view(queries: Queries, request_id: str, links: RunLinks) -> RequestView:
    """Everything the request page shows; ``UnknownRequest`` when there is no such request."""
    r, policy = queries.get_with_policy(request_id)
    records = queries.history([r])[r.id]
    effects: list[OutboxItem] = queries.effects([r])[r.id]
    champion = None
    if any(g.name == "challenger_accuracy" and not g.no_champion for g in r.gates):
        champion = champion_before(queries, r)
    gates = [
        Gate(
            g.name,
            g.value,
            g.op,
            g.threshold,
            g.passed,
            g.no_champion,
            champion if g.name == "challenger_accuracy" else None,
        )
        for g in r.gates
    ]
    busy = any(i.state in (OutboxState.PENDING, OutboxState.DELIVERING) for i in effects)
    return RequestView(
        request=r,
        policy=policy,
        gates=gates,
        links=[(n, u) for n, u in r.links.items() if u and _SAFE_URL.match(u)],
        timeline=timeline(records),
        effects=[(i.kind, i.state.value, effect_detail(i)) for i in effects],
        promotion=_promotion(r, records, links),
        settled=r.state in FINAL and not busy,
        votes_by={v.person: v.vote.value for v in r.votes},
        launch_problem=launch_problem(effects),
        challenger=challenger_fate(r, records, effects),
        window=plain(line) if (line := veto_window(r, policy)) else None,
        evidence=queries.evidence(r.id),
        rollout=[plain(line) for line in (*planned(r), *rollout_lines(r))],
        rollout_actions=[(a.value, label) for a, label in buttons.labelled()]
        if (buttons := rollout_buttons(r))
        else [],
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person at the console (if known), and why they cannot vote (if they cannot)."""

    person: Person | None
    email: str | None
    via: str
    why_no_vote: str | None

    @property
    def can_vote(self) -> bool:
        return self.person is not None and self.why_no_vote is None

    @property
    def identity(self) -> Identity | None:
        return Identity(SPEC.name, self.email) if self.can_vote and self.email else None
