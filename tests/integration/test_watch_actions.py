"""What people do about a divergence (bot/service/watch_actions.py, docs/watch.md) on the
in-memory fakes, SQLite and PostgreSQL alike: two people clicking at once (on two replicas)
take one way out between them, stored with who asked, and audited once."""

from __future__ import annotations

import threading

import pytest

from bot.domain import errors
from bot.domain.names import EventKind
from bot.service import Services
from bot.service.identity import Identity
from tests import builders


def test_racing_clicks_take_one_way_out(service: Services) -> None:
    service.admin.apply(builders.directory())
    did = builders.diverge(service)
    start = threading.Barrier(6)
    done: list[str] = []
    refused: list[str] = []

    def click(i: int) -> None:
        who = Identity("cli", ("carol", "bob", "alice")[i % 3])
        action = ("deploy_champion", "alias_back")[i % 2]
        start.wait()
        try:
            service.watch.act(did, who, action)
        except errors.Refused as exc:
            refused.append(exc.message)
        else:
            done.append(action)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(done) == 1 and len(refused) == 5
    assert all("asked already" in why for why in refused)
    asked = service.watch.view(did).asked
    assert asked is not None and asked["action"] == done[0]
    kinds = {"deploy_champion": EventKind.SERVING_DEPLOY_CHAMPION}
    kind = kinds.get(done[0], EventKind.SERVING_ALIAS_BACK)
    with service.uow(readonly=True) as uow:
        events = [r for r in uow.audit.records(None) if r.kind == kind]
    assert [r.actor for r in events] == [asked["by"]]


def test_an_unknown_divergence_or_action_is_named(service: Services) -> None:
    service.admin.apply(builders.directory())
    with pytest.raises(errors.NotFound, match="no divergence 'nope'"):
        service.watch.act("nope", Identity("cli", "carol"), "alias_back")
    with pytest.raises(errors.NotFound, match="no divergence"):
        service.watch.view("../etc")
    did = builders.diverge(service)
    with pytest.raises(errors.Refused, match="'fly_away' is not something to do"):
        service.watch.act(did, Identity("cli", "carol"), "fly_away")
    with pytest.raises(errors.UnknownPerson):
        service.watch.act(did, Identity("cli", "mallory"), "alias_back")
