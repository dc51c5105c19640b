"""People's and groups' names in the declarative config: checked by Unicode TR39's rules
(``bot/domain/lookalike.py``) and NFKC-normalised everywhere they appear, so that no two
names, nor a name and what people would type for it, can pass for each other."""

from __future__ import annotations

from bot.domain import lookalike
from bot.service.schemas import MAX_PERSON_NAME, ConfigIn, GroupSpec


def checked_names(cfg: ConfigIn, problems: list[str]) -> ConfigIn:
    """``cfg`` with its names normalised; each bad name and each look-alike pair appended to
    ``problems`` as one line (a pair's line names both)."""
    for kind, names in (("people", list(cfg.people)), ("groups", list(cfg.groups))):
        for name in names:
            normal = lookalike.normalise(name)
            why = lookalike.problem(normal)
            if why is None and len(normal) > MAX_PERSON_NAME:
                why = f"is longer than {MAX_PERSON_NAME} characters once normalised (NFKC)"
            if why is not None:
                problems.append(f"{kind}.{name!r}: {why}")
        for first, second in lookalike.collisions(names):
            problems.append(
                f"{kind}: {first!r} and {second!r} look alike (Unicode TR39 confusables, or the "
                "same once normalised): rename one"
            )
    return _normalised(cfg)


def _normalised(cfg: ConfigIn) -> ConfigIn:
    n = lookalike.normalise
    groups: dict[str, list[str] | GroupSpec] = {}
    for name, spec in cfg.groups.items():
        if isinstance(spec, GroupSpec):
            groups[n(name)] = spec.model_copy(update={"members": [n(m) for m in spec.members]})
        else:
            groups[n(name)] = [n(m) for m in spec]
    policies = [
        pol.model_copy(
            update={
                "rules": [r.model_copy(update={"group": n(r.group)}) for r in pol.rules],
                "escalate_to": n(pol.escalate_to) if pol.escalate_to is not None else None,
            }
        )
        for pol in cfg.policies
    ]
    people = {n(name): person for name, person in cfg.people.items()}
    return cfg.model_copy(update={"people": people, "groups": groups, "policies": policies})
