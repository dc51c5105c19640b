"""Declarative config: validate everything first, then apply it in one transaction."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.domain.directory import Directory
from bot.domain.durations import parse_duration
from bot.domain.errors import ConfigError
from bot.domain.model import ExpiryAction, Group, Person, Policy
from bot.domain.policy import CanaryError, CanarySpec
from bot.domain.quorum import Rule
from bot.service.config_names import checked_names
from bot.service.identity import IdentityKinds
from bot.service.schemas import ConfigIn, GroupSpec, PeopleIn, PolicyIn, field_errors

PEOPLE: TypeAdapter[PeopleIn] = TypeAdapter(PeopleIn)


def parse_config(raw: Any, kinds: IdentityKinds) -> Directory:
    """Turn the YAML document into a Directory, or raise ConfigError naming each bad path.

    People's identities and groups' sources are of the kinds the channels declare
    (``kinds``): any other key is refused, naming the ones there are."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config: the document must be a mapping with people, groups, policies")
    try:
        cfg = ConfigIn.model_validate(raw)
    except ValidationError as exc:
        problems = field_errors(exc)
        # The people may be fine: then say what is wrong with their identities too.
        with contextlib.suppress(ValidationError):
            _people(PEOPLE.validate_python(raw.get("people") or {}), kinds, problems)
        raise ConfigError("\n".join(problems)) from None
    problems = []
    cfg = checked_names(cfg, problems)
    people = _people(cfg.people, kinds, problems)
    groups = _groups(cfg, kinds, problems)
    policies = _policies(cfg, problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return Directory(
        tuple(sorted(people, key=lambda p: p.name)),
        tuple(sorted(groups, key=lambda g: g.name)),
        tuple(sorted(policies, key=lambda p: p.model)),
    )


def _known(keys: dict[str, Any], what: str) -> str:
    names = sorted(keys)
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
    return f"unknown key (the channels here {what} {listed or 'nothing'})"


def _people(
    given_people: dict[str, dict[str, str | int]], kinds: IdentityKinds, problems: list[str]
) -> list[Person]:
    declared = kinds.declared()
    people = []
    seen: dict[tuple[str, str], str] = {}
    for name, given in given_people.items():
        ids: dict[str, str] = {}
        for key, value in given.items():
            at = f"people.{name}.{key}"
            kind = declared.get(key)
            if kind is None:
                problems.append(f"{at}: {_known(declared, 'identify people by')}")
                continue
            canonical = kind.canonical(value)
            if canonical is None:
                problems.append(f"{at}: {value!r} is not a {kind.label} (e.g. {kind.example})")
                continue
            if (stand_in := kind.stand_in(canonical)) is not None:
                problems.append(f"{at}: {canonical} is {stand_in}, not a person's id")
                continue
            if (key, canonical.lower()) in seen:
                problems.append(
                    f"{at}: {value} is already {seen[key, canonical.lower()]}'s {key} id"
                )
                continue
            seen[key, canonical.lower()] = name
            ids[key] = canonical
        people.append(Person.of(name, **ids))
    return people


def _groups(cfg: ConfigIn, kinds: IdentityKinds, problems: list[str]) -> list[Group]:
    declared = kinds.sources
    groups = []
    for gname, spec in cfg.groups.items():
        sources: dict[str, str] = {}
        if isinstance(spec, GroupSpec):
            members, path = spec.members, f"groups.{gname}.members"
            for key, value in (spec.model_extra or {}).items():
                source = declared.get(key)
                at = f"groups.{gname}.{key}"
                if source is None:
                    problems.append(f"{at}: {_known(declared, 'take members from')}")
                elif (found := source.canonical(value)) is None:
                    problems.append(
                        f"{at}: {value!r} is not a {source.label} (e.g. {source.example})"
                    )
                else:
                    sources[key] = found
        else:
            members, path = spec, f"groups.{gname}"
        for i, m in enumerate(members):
            if m not in cfg.people:
                problems.append(f"{path}[{i}]: unknown person {m!r}")
        groups.append(Group.of(gname, frozenset(members), **sources))
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
        canary = _canary(pol, at, problems)
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
                auto_approve_after=durations["auto_approve_after"],
                rollback_groups=tuple(dict.fromkeys(pol.rollback_groups)),
                canary=canary,
            )
        )
    return policies


def _canary(pol: PolicyIn, at: str, problems: list[str]) -> CanarySpec | None:
    if pol.canary is None:
        return None
    try:
        return CanarySpec.of(pol.canary.steps, pol.canary.dwell_seconds)
    except CanaryError as exc:
        problems.append(f'{at}.canary.{exc.field}: {exc}; see docs/kserve.md, "Canary"')
        return None


def _durations(pol: PolicyIn, at: str, problems: list[str]) -> dict[str, timedelta | None]:
    durations: dict[str, timedelta | None] = {}
    for field in ("deadline", "remind_every", "escalate_after", "auto_approve_after"):
        value = getattr(pol, field)
        try:
            durations[field] = parse_duration(value) if value is not None else None
        except ValueError as exc:
            problems.append(f"{at}.{field}: {exc}")
    window, deadline = durations.get("auto_approve_after"), durations.get("deadline")
    if window is not None and deadline is not None and window >= deadline:
        problems.append(
            f"{at}.auto_approve_after: the veto window ({pol.auto_approve_after}) must end "
            f'before the deadline ({pol.deadline}); see README.md, "Rules"'
        )
    return durations


def _check_references(cfg: ConfigIn, pol: PolicyIn, at: str, problems: list[str]) -> None:
    for j, rule in enumerate(pol.rules):
        if rule.group not in cfg.groups:
            problems.append(f"{at}.rules[{j}].group: unknown group {rule.group!r}")
    if len({r.group for r in pol.rules}) != len(pol.rules):
        problems.append(f"{at}.rules: a group appears in two rules; merge them")
    for j, group in enumerate(pol.rollback_groups):
        if group not in cfg.groups:
            problems.append(f"{at}.rollback_groups[{j}]: unknown group {group!r}")
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
