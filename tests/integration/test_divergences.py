"""The divergences the serving watch stores (docs/watch.md), on the in-memory fakes, SQLite
and PostgreSQL alike: one open divergence per model, however many replicas race to add it."""

from __future__ import annotations

import pytest

from bot.domain.divergence import Champion, Divergence, Observation, Served, WatchTarget
from bot.domain.names import EventKind
from bot.service import Services


def seen(model: str, served: str = "s3://a", champion: str = "s3://b") -> Observation:
    return Observation(
        WatchTarget(model, "models/iris-serving"),
        Served(served, "kubectl-patch", "2026-12-07T04:00:00Z"),
        Champion("2", champion),
        served_version="1",
    )


def add(service: Services, found: Divergence) -> bool:
    with service.uow() as uow:
        added = uow.divergences.add(found)
        uow.commit()
    return added


def test_one_open_divergence_per_model_and_its_resolution(service: Services) -> None:
    now = service.clock.now()
    first = Divergence.detect(seen("iris"), now)
    assert add(service, first)
    assert not add(service, Divergence.detect(seen("iris", served="s3://c"), now)), "one open"
    assert add(service, Divergence.detect(seen("other"), now))
    with service.uow(readonly=True) as uow:
        found = uow.divergences.open_for("iris")
        assert found is not None and found.id == first.id and found.describes(seen("iris"))
        assert found.detail["served_changed_by"] == "kubectl-patch"
        assert uow.divergences.states() == {"iris": True, "other": True}
    with service.uow() as uow:
        found = uow.divergences.get(first.id)
        assert found is not None
        found.resolve(service.clock.now(), "agree again")
        found.refs["toy"] = {"id": "m1"}
        uow.divergences.save(found)
        uow.commit()
    with service.uow(readonly=True) as uow:
        assert uow.divergences.open_for("iris") is None
        again = uow.divergences.get(first.id)
        assert again is not None and again.refs == {"toy": {"id": "m1"}}
        assert uow.divergences.states() == {"iris": False, "other": True}
        kinds = [r.kind for r in uow.audit.records(None)]
    assert kinds.count(EventKind.SERVING_DIVERGED) == 2  # the refused one was not recorded
    assert kinds.count(EventKind.SERVING_CONVERGED) == 1
    assert add(service, Divergence.detect(seen("iris"), now)), "a new one after it resolved"


def test_rollback_groups_are_kept_and_default_to_the_approver_groups(service: Services) -> None:
    from bot.domain.errors import ConfigError
    from tests import builders

    service.admin.apply(builders.directory())
    with service.uow(readonly=True) as uow:
        policy = uow.directory.policy_for("iris")
    assert policy is not None and policy.rollback_groups == ()
    assert policy.may_roll_back(frozenset({"ml-leads"})), "default: the approver groups"
    service.admin.apply(builders.directory(policies=builders.policy_patch(rollback_groups=["sre"])))
    with service.uow(readonly=True) as uow:
        policy = uow.directory.policy_for("iris")
    assert policy is not None and policy.rollback_groups == ("sre",)
    assert policy.may_roll_back(frozenset({"sre"}))
    assert not policy.may_roll_back(frozenset({"ml-leads"}))
    with pytest.raises(ConfigError, match=r"policies\[0\]\.rollback_groups\[0\]: unknown group"):
        builders.directory(policies=builders.policy_patch(rollback_groups=["oncall"]))
