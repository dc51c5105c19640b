"""The toy chat channel (named after its package), written the way docs/architecture.md
("Adding a channel") says: new files only, and one entry where channels are registered. The
test of the seam (``tests/adapters/test_toy_channel.py``) adds it to the registry's list at
build time.

It speaks a made-up protocol: clicks arrive as JSON at ``POST /toy/events``, and what it
posts is kept in memory (``transport.SENT``), for the test to read.
"""

from __future__ import annotations

from bot.adapters.plugin import ChannelSpec
from bot.service.identity import IdentityKind
from tests.toy.settings import ToySettings

SPEC = ChannelSpec(
    __name__, ToySettings, IdentityKind("toy", "toy user id", "toy account", r"t[0-9]+", "t1")
)
