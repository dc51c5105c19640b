"""Declarative config: validate everything first, then apply it in one transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from bot.domain.durations import parse_duration
from bot.domain.errors import ConfigError
from bot.domain.model import ExpiryAction, Group, Person, Policy
from bot.domain.names import IdentityKind
from bot.domain.quorum import Rule
from bot.ports import Directory
from bot.service.config_names import checked_names
from bot.service.schemas import ConfigIn, GroupSpec, PolicyIn, field_errors


def parse_config(raw: Any) -> Directory:
    """Turn the YAML document into a Directory, or raise ConfigError naming each bad path."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config: the document must be a mapping with people, groups, policies")
    try:
        cfg = ConfigIn.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(field_errors(exc))) from None
    problems: list[str] = []
    cfg = checked_names(cfg, problems)
    people = _people(cfg, problems)
    groups = _groups(cfg, problems)
    policies = _policies(cfg, problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return Directory(
        tuple(sorted(people, key=lambda p: p.name)),
        tuple(sorted(groups, key=lambda g: g.name)),
        tuple(sorted(policies, key=lambda p: p.model)),
    )


def _people(cfg: ConfigIn, problems: list[str]) -> list[Person]:
    people = []
    seen: dict[tuple[str, str], str] = {}
    for name, p in cfg.people.items():
        for kind, value in (
            (IdentityKind.SLACK, p.slack),
            (IdentityKind.TELEGRAM, p.telegram),
            (IdentityKind.EMAIL, p.email),
        ):
            if value is None:
                continue
            key = (kind, str(value).lower())
            if key in seen:
                problems.append(f"people.{name}.{kind}: {value} is already {seen[key]}'s {kind} id")
            else:
                seen[key] = name
        people.append(Person(name, p.slack, p.telegram, p.email))
    return people


def _groups(cfg: ConfigIn, problems: list[str]) -> list[Group]:
    groups = []
    for gname, spec in cfg.groups.items():
        if isinstance(spec, GroupSpec):
            members, usergroup = spec.members, spec.slack_usergroup
            path = f"groups.{gname}.members"
        else:
            members, usergroup = spec, None
            path = f"groups.{gname}"
        for i, m in enumerate(members):
            if m not in cfg.people:
                problems.append(f"{path}[{i}]: unknown person {m!r}")
        groups.append(Group(gname, frozenset(members), usergroup))
    return groups


def _policies(cfg: ConfigIn, problems: list[str]) -> list[Policy]:
    policies = []
    models: set[str] = set()
    for i, pol in enumerate(cfg.policies):
        at = f"policies[{i}]"
        if pol.model in models:
            problems.append(f"{at}.model: a second policy for {pol.model!r}")
        models.add(pol.model)
        durations = _durations(pol, at, problems)
        _check_references(cfg, pol, at, problems)
        if problems:
            continue  # nothing is applied anyway: only collect what else is wrong
        policies.append(
            Policy(
                model=pol.model,
                rules=tuple(Rule(r.group, r.min_approvals) for r in pol.rules),
                deadline=durations["deadline"] or timedelta(hours=48),
                remind_every=durations["remind_every"],
                escalate_after=durations["escalate_after"],
                escalate_to=pol.escalate_to,
                on_expiry=ExpiryAction(pol.on_expiry),
                allow_self_approval=pol.allow_self_approval,
                allow_override_failed_gates=pol.allow_override_failed_gates,
                reject_reason_required=pol.reject_reason_required,
            )
        )
    return policies


def _durations(pol: PolicyIn, at: str, problems: list[str]) -> dict[str, timedelta | None]:
    durations: dict[str, timedelta | None] = {}
    for field in ("deadline", "remind_every", "escalate_after"):
        value = getattr(pol, field)
        try:
            durations[field] = parse_duration(value) if value is not None else None
        except ValueError as exc:
            problems.append(f"{at}.{field}: {exc}")
    return durations


def _check_references(cfg: ConfigIn, pol: PolicyIn, at: str, problems: list[str]) -> None:
    for j, rule in enumerate(pol.rules):
        if rule.group not in cfg.groups:
            problems.append(f"{at}.rules[{j}].group: unknown group {rule.group!r}")
    if len({r.group for r in pol.rules}) != len(pol.rules):
        problems.append(f"{at}.rules: a group appears in two rules; merge them")
    if pol.escalate_to is not None and pol.escalate_to not in cfg.groups:
        problems.append(f"{at}.escalate_to: unknown group {pol.escalate_to!r}")
    if (pol.escalate_to is None) != (pol.escalate_after is None):
        problems.append(f"{at}: escalate_after and escalate_to go together")


def diff_directories(old: Directory, new: Directory) -> list[str]:
    """Human-readable changes, empty when the two are the same."""
    changes: list[str] = []

    def compare(kind: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        for key in sorted(a.keys() - b.keys()):
            changes.append(f"- {kind} {key}")
        for key in sorted(b.keys() - a.keys()):
            changes.append(f"+ {kind} {key}")
        for key in sorted(a.keys() & b.keys()):
            if a[key] != b[key]:
                changes.append(f"~ {kind} {key}")

    compare("person", {p.name: p for p in old.people}, {p.name: p for p in new.people})
    compare("group", {g.name: g for g in old.groups}, {g.name: g for g in new.groups})
    compare("policy", {p.model: p for p in old.policies}, {p.model: p for p in new.policies})
    return changes
