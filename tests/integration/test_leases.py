"""Named leases: one holder at a time, renewed by its holder, taken over once expired, on
the in-memory fakes, SQLite and PostgreSQL alike (bot/service/leases.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.service import Services
from tests.fakes import FakeClock

TTL = timedelta(seconds=30)


def test_one_holder_at_a_time_until_it_expires(service: Services, clock: FakeClock) -> None:
    leases = service.leases
    assert leases.holder("watch") is None
    assert leases.take("watch", "pod-a", TTL) is True
    assert leases.take("watch", "pod-b", TTL) is False
    assert leases.holder("watch") == "pod-a"
    clock.advance(seconds=29)
    assert leases.take("watch", "pod-a", TTL) is True  # a renewal: until now + 30 s
    clock.advance(seconds=29)
    assert leases.take("watch", "pod-b", TTL) is False
    assert leases.holder("watch") == "pod-a"
    clock.advance(seconds=1)
    assert leases.holder("watch") is None
    assert leases.take("watch", "pod-b", TTL) is True
    assert leases.holder("watch") == "pod-b"
    assert leases.take("watch", "pod-a", TTL) is False


def test_leases_are_by_name(service: Services) -> None:
    assert service.leases.take("watch", "pod-a", TTL) is True
    assert service.leases.take("telegram-poller", "pod-b", TTL) is True
    assert service.leases.holder("watch") == "pod-a"
    assert service.leases.holder("telegram-poller") == "pod-b"


def test_giving_up_frees_it_for_another_only_when_held(service: Services) -> None:
    leases = service.leases
    assert leases.take("watch", "pod-a", TTL) is True
    leases.give_up("watch", "pod-b")  # not pod-b's: nothing happens
    assert leases.holder("watch") == "pod-a"
    leases.give_up("watch", "pod-a")
    assert leases.holder("watch") is None
    assert leases.take("watch", "pod-b", TTL) is True


def test_a_lease_is_taken_for_a_positive_time(service: Services) -> None:
    with pytest.raises(ValueError, match="positive time"):
        service.leases.take("watch", "pod-a", timedelta(0))


def test_racing_takers_one_wins(service: Services) -> None:
    """Eight threads take a free lease at once: exactly one gets it (one upsert each)."""
    start = threading.Barrier(8)
    won: list[str] = []

    def take(holder: str) -> None:
        start.wait()
        if service.leases.take("race", holder, TTL):
            won.append(holder)

    threads = [threading.Thread(target=take, args=(f"pod-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert service.leases.holder("race") == won[0]
