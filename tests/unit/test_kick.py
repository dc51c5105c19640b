"""Delivery kicks coalesce: one pass at a time, and a kick during a pass gets one more."""

from __future__ import annotations

import asyncio

from bot.service.delivery import Delivery


class CountingDispatcher:
    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.passes = 0
        self.gate = asyncio.Event()
        self.lanes: list[frozenset[str] | None] = []

    async def deliver_due(self, lanes=None) -> None:
        self.lanes.append(None if lanes is None else frozenset(lanes))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.passes += 1
        await self.gate.wait()
        self.running -= 1


def test_many_kicks_run_one_pass_at_a_time_and_one_more_after():
    async def scenario() -> CountingDispatcher:
        d = CountingDispatcher()
        c = Delivery(d)
        c.loop = asyncio.get_running_loop()
        for _ in range(20):
            c.kick()
        await asyncio.sleep(0)  # let the first pass start: it sees all 20 commits
        assert d.passes == 1
        for _ in range(5):  # commits during the pass
            c.kick()
        d.gate.set()
        await asyncio.wait_for(c.drain(), timeout=5)
        while c.tasks:
            await asyncio.wait_for(c.drain(), timeout=5)
        return d

    d = asyncio.run(scenario())
    assert d.max_running == 1
    assert d.passes == 2, "kicks during a pass ask for exactly one more pass"


def test_a_pass_delivers_the_lanes_its_kicks_named():
    async def scenario() -> CountingDispatcher:
        d = CountingDispatcher()
        c = Delivery(d)
        c.loop = asyncio.get_running_loop()
        c.kick({"chat"})
        await asyncio.sleep(0)  # the first pass: chat only
        c.kick({"mlflow"})
        c.kick({"kfp"})
        d.gate.set()
        while c.tasks:
            await asyncio.wait_for(c.drain(), timeout=5)
        c.kick({"chat"})
        c.kick()  # a kick that names no lane asks for all of them
        while c.tasks:
            await asyncio.wait_for(c.drain(), timeout=5)
        return d

    d = asyncio.run(scenario())
    assert d.lanes == [frozenset({"chat"}), frozenset({"mlflow", "kfp"}), None]
