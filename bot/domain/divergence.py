"""Registry and serving drifting apart: what the watch saw, and the divergence it tells.

The watch (``bot/service/watch.py``, docs/watch.md) reads, for each watched model, the
storage URI its InferenceService serves and the one of the version ``@champion`` names (the
same URI a promotion patches in). When they differ outside a promotion the bot runs, that is
a ``Divergence``: raised once (``serving_diverged``, posted to the chats), and resolved once
(``serving_converged``, the post updated) when the two agree again, however that happened.
A different disagreement later is a new divergence.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import errors
from bot.domain.events import Event
from bot.domain.names import SYSTEM_WATCH, EventKind


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """One model and where it is served (``namespace/name`` of an InferenceService, or the
    local launcher's ``local``)."""

    model: str
    service: str


@dataclass(frozen=True, slots=True)
class Served:
    """What serving says: the storage URI (None: nothing served) and, when it says, who
    changed it last and when (Kubernetes' managedFields)."""

    uri: str | None
    changed_by: str | None = None
    changed_at: str | None = None


@dataclass(frozen=True, slots=True)
class Champion:
    """What the registry says: the version ``@champion`` names (None: none) and its storage
    URI as a promotion serves it. MLflow keeps no history of aliases, and setting one does
    not change the registered model's ``last_updated_timestamp``: it cannot say who or when."""

    version: str | None
    uri: str | None


@dataclass(frozen=True, slots=True)
class Observation:
    target: WatchTarget
    served: Served
    champion: Champion
    served_version: str | None = None  # the registered version whose URI is served

    @property
    def diverged(self) -> bool:
        return self.served.uri != self.champion.uri


# What a person may do about a divergence (docs/watch.md), as the alert's buttons say it.
ALIAS_BACK = "alias_back"
DEPLOY_CHAMPION = "deploy_champion"
ACTIONS = {
    ALIAS_BACK: "move @champion back to the served version",
    DEPLOY_CHAMPION: "deploy the champion",
}


def _id() -> str:
    return secrets.token_hex(6)


@dataclass(eq=False)
class Divergence:
    """One disagreement of serving and ``@champion`` for a model, from seen to resolved."""

    model: str
    service: str
    served_uri: str | None
    champion_uri: str | None
    champion_version: str | None
    detected_at: datetime
    served_version: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)  # who/when, as the systems say
    id: str = field(default_factory=_id)
    resolved_at: datetime | None = None
    resolution: str | None = None
    refs: dict[str, Any] = field(default_factory=dict)  # channel -> where its alert is
    events: list[Event] = field(default_factory=list)

    @property
    def subject(self) -> str | None:
        return None  # not about one request

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def describes(self, seen: Observation) -> bool:
        """Is ``seen`` this same disagreement (the same two URIs)?"""
        return (seen.served.uri, seen.champion.uri) == (self.served_uri, self.champion_uri)

    @classmethod
    def detect(cls, seen: Observation, now: datetime) -> Divergence:
        detail = {
            k: v
            for k, v in (
                ("served_changed_by", seen.served.changed_by),
                ("served_changed_at", seen.served.changed_at),
            )
            if v
        }
        found = cls(
            model=seen.target.model,
            service=seen.target.service,
            served_uri=seen.served.uri,
            champion_uri=seen.champion.uri,
            champion_version=seen.champion.version,
            served_version=seen.served_version,
            detected_at=now,
            detail=detail,
        )
        found.events.append(Event(EventKind.SERVING_DIVERGED, SYSTEM_WATCH, found.summary()))
        return found

    def resolve(self, now: datetime, how: str, *, actor: str = SYSTEM_WATCH) -> None:
        """It is over (``how``: what was seen); raises ``serving_converged`` once."""
        if not self.is_open:
            return
        self.resolved_at, self.resolution = now, how
        self.events.append(
            Event(EventKind.SERVING_CONVERGED, actor, {**self.summary(), "resolution": how})
        )

    def move_alias_back(self, actor: str, now: datetime) -> None:
        """Ask for ``@champion`` back on the served version (``serving_alias_back``; the
        MLflow effect moves it only while it still names ``champion_version``)."""
        self._may_act(ALIAS_BACK)
        if self.served_version is None:
            raise errors.Refused(
                f"{self.service} serves {self.served_uri or 'nothing'}, which is no registered "
                f"version of {self.model}: there is no version to move @champion back to"
            )
        self._asked(ALIAS_BACK, actor, now)
        self.events.append(Event(EventKind.SERVING_ALIAS_BACK, actor, self.summary()))

    def deploy_champion(self, actor: str, now: datetime) -> None:
        """Ask for the version ``@champion`` names to be served (``serving_deploy_champion``;
        its effect starts a promotion run of it, whose guard asks the bot for this divergence
        and refuses unless it is open and ``@champion`` still names ``champion_version``)."""
        self._may_act(DEPLOY_CHAMPION)
        if self.champion_version is None or self.champion_uri is None:
            raise errors.Refused(
                f"@champion of {self.model} names no version: there is nothing to deploy; "
                "move the alias back to the served version instead"
            )
        self._asked(DEPLOY_CHAMPION, actor, now)
        self.events.append(Event(EventKind.SERVING_DEPLOY_CHAMPION, actor, self.summary()))

    def deploy_started(self, run_id: str) -> None:
        """The deploy someone asked for runs as ``run_id`` (followed until it ends)."""
        asked = self.asked
        if asked is not None and asked.get("action") == DEPLOY_CHAMPION:
            self.detail["asked"] = {**asked, "run": run_id}

    @property
    def deploying(self) -> str | None:
        """The run of an asked deploy, while nobody knows how it ended."""
        asked = self.asked
        if not self.is_open or asked is None or asked.get("action") != DEPLOY_CHAMPION:
            return None
        return str(asked["run"]) if asked.get("run") else None

    def deploy_failed(self, run_id: str, why: str, now: datetime) -> None:
        """The deploy's run failed (its promotion put serving back): the alert says so and
        offers both ways out again (``serving_deploy_failed``)."""
        if self.deploying != run_id:
            return
        asked = self.asked or {}
        failed = {"by": asked.get("by"), "run": run_id, "why": why, "at": now.isoformat()}
        self.detail.pop("asked", None)
        self.detail["deploy_failed"] = failed
        self.events.append(Event(EventKind.SERVING_DEPLOY_FAILED, SYSTEM_WATCH, self.summary()))

    @property
    def asked(self) -> dict[str, Any] | None:
        """What someone asked to end it (``action``, ``by``, ``at``), if anyone did."""
        asked = self.detail.get("asked")
        return dict(asked) if isinstance(asked, dict) else None

    def _may_act(self, action: str) -> None:
        if not self.is_open:
            raise errors.Refused(f"divergence {self.id} of {self.model} is resolved already")
        asked = self.asked
        if asked is not None:
            # One way out at a time: a deploy of @champion and @champion moved back to the
            # served version undo each other. Once asked, the watch's next rounds tell.
            raise errors.Refused(
                f"{asked.get('by', 'someone')} asked already to "
                f"{ACTIONS.get(str(asked.get('action')), asked.get('action'))} for divergence "
                f"{self.id} of {self.model}; the watch resolves it when serving and @champion "
                "agree (docs/watch.md)"
            )

    def _asked(self, action: str, actor: str, now: datetime) -> None:
        self.detail["asked"] = {"action": action, "by": actor, "at": now.isoformat()}
        self.detail.pop("deploy_failed", None)  # told; this is the way out now

    def summary(self) -> dict[str, Any]:
        """What the audit log and the alert say."""
        return {
            "divergence": self.id,
            "model": self.model,
            "service": self.service,
            "served_uri": self.served_uri,
            "served_version": self.served_version,
            "champion_version": self.champion_version,
            "champion_uri": self.champion_uri,
            **self.detail,
        }
