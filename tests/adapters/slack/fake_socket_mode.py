"""A fake of Slack's Socket Mode WebSocket server on 127.0.0.1 (aiohttp, its own thread).

``apps.connections.open`` on the fake Web API answers with ``url``; the bot connects,
gets ``hello``, and each envelope sent with ``send`` must come back acknowledged
(``{"envelope_id": ...}``), which ``acks`` records.
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.processes import free_port, wait_for


class FakeSocketMode:
    def __init__(self) -> None:
        self.port = free_port()
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._ws: web.WebSocketResponse | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-socket-mode")
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=t1"

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def acked(self, envelope_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

    def send(self, envelope_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Push one envelope (``interactive``, ``slash_commands``, ``events_api``) to the bot."""
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        ws = self._ws
        assert ws is not None, "the bot is not connected"
        asyncio.run_coroutine_threadsafe(ws.send_str(json.dumps(envelope)), self._loop).result(5)

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            "connection_info": {"app_id": "A0APP001"},
        }
        await ws.send_str(json.dumps(hello))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                with self._lock:
                    self.acks.append(json.loads(message.data))
        return ws

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def wait_connected(fake: FakeSocketMode) -> None:
    wait_for(lambda: fake.connected, timeout=10, description="the bot to connect", interval=0.02)
