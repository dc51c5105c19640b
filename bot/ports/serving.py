"""What the registry ↔ serving watch reads (``bot/service/watch.py``, docs/watch.md):
what a model's serving serves, and what the registry's ``@champion`` names. Blocking: the
watch calls them in a worker thread. Each raises ``WatchUnavailable`` (one line, said in the
log) when its system cannot be read this time."""

from __future__ import annotations

from typing import Protocol

from bot.domain.divergence import Champion, Served, WatchTarget


class WatchUnavailable(Exception):
    """The system could not be read this round (down, refused, not found): one line."""


class ServedModels(Protocol):
    def served(self, target: WatchTarget) -> Served:
        """The storage URI ``target``'s serving serves now, and who/when if it says."""
        ...


class Champions(Protocol):
    def champion(self, model: str) -> Champion:
        """The version ``@champion`` names and its storage URI, as a promotion serves it."""
        ...

    def version_serving(self, model: str, uri: str) -> str | None:
        """The registered version whose storage URI is ``uri`` (None: none known)."""
        ...
