"""Wire the slack adapter into a Container when its settings are present (called by bootstrap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.bootstrap import Container


def wire(container: Container) -> None:
    """Register effect handlers, routes, start/stop hooks. Not configured yet: nothing."""
