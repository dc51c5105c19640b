"""A webhook receiver that counts acknowledged deliveries per Idempotency-Key, and can
hold chosen deliveries unanswered (to kill the sender while they are in flight)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from tests.support.http_fake import FakeHttpServer, Recorded


class WebhookFake(FakeHttpServer):
    def __init__(self) -> None:
        super().__init__()
        self.acked: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.hold: Callable[[str], bool] = lambda key: False
        self.release = threading.Event()
        self._count_lock = threading.Lock()
        self.route("POST", "/hook", self._hook)

    def _hook(self, request: Recorded) -> tuple[int, dict[str, str]]:
        key = request.headers.get("idempotency-key", "")
        with self._count_lock:
            self.received[key] += 1
        if self.hold(key):
            # Never answered while the sender lives: the sender is killed meanwhile.
            self.release.wait(timeout=120)
            return 503, {"error": "held"}
        with self._count_lock:
            self.acked[key] += 1
        return 200, {"ok": "yes"}

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"
