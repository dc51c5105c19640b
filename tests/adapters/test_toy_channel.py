"""The channel seam holds: a channel written as docs/architecture.md says (new files, plus
one registry entry; ``tests/toy``) receives requests, votes, and is updated, with
no edit to any existing module, and the config's people get its identities."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.adapters import registry
from bot.adapters.console.settings import ConsoleSettings
from bot.adapters.db.migrate import upgrade
from bot.bootstrap import Container, build
from bot.domain.errors import ConfigError
from bot.service.config import parse_config
from tests import builders
from tests.adapters.slack.conftest import DEADLINE, core_settings, eventually, serving
from tests.toy import SPEC as TOY
from tests.toy.settings import ToySettings
from tests.toy.transport import SENT

SPECS = (*registry.specs(), TOY)  # the one registry entry


def config() -> dict:
    raw = builders.config_dict()
    raw["people"]["bob"]["toy"] = "t2"
    raw["people"]["carol"]["toy"] = "t3"
    return raw


@pytest.fixture
def toy(sqlite_url: str) -> Iterator[tuple[Container, str]]:
    upgrade(sqlite_url)
    channels = {"toy": ToySettings(enabled=True), "console": ConsoleSettings()}
    container = build(core_settings(sqlite_url), channels=channels, specs=SPECS)
    container.services.admin.apply(parse_config(config(), registry.identity_kinds(SPECS)))
    try:
        with serving(container) as url:
            yield container, url
    finally:
        container.close()


def shown(container: Container, request_id: str) -> list[str]:
    ref = container.services.chat.ref(request_id, "toy")
    return [m["text"] for m in SENT[ref["id"]]] if ref else []


def test_a_toy_channel_posts_votes_and_updates_through_the_chat_core(toy) -> None:
    container, url = toy
    assert container.services.channels == ("toy",), "requests are posted to it"
    rid = container.services.commands.submit(builders.submission(requested_by="dave")).request.id
    eventually(lambda: shown(container, rid), "the toy message to be posted")
    assert "Approval needed: iris-classifier v3" in shown(container, rid)[0]

    with httpx.Client(timeout=DEADLINE) as http:
        said = http.post(
            f"{url}/toy/events", json={"user": "t2", "action": "approve", "request": rid}
        )
        assert said.json()["said"] == [
            {"text": "✅ Your approval of iris-classifier v3 was counted."}
        ]
        eventually(
            lambda: any("[b]bob[/b] approved via toy" in t for t in shown(container, rid)),
            "the toy message to show bob's vote",
        )
        nobody = http.post(
            f"{url}/toy/events", json={"user": "t9", "action": "approve", "request": rid}
        )
        assert "not enrolled" in nobody.json()["said"][0]["text"]
        http.post(f"{url}/toy/events", json={"user": "t3", "action": "approve", "request": rid})
    eventually(lambda: "Approved" in shown(container, rid)[-1], "the decided message")
    (first, second) = container.services.queries.get(rid).votes
    assert (first.person, first.channel, second.person) == ("bob", "toy", "carol")


def test_the_config_refuses_an_identity_no_registered_channel_declares() -> None:
    raw = config()
    with pytest.raises(ConfigError, match=r"people\.bob\.toy: unknown key"):
        parse_config(raw, registry.identity_kinds())  # without the toy channel registered
    directory = parse_config(raw, registry.identity_kinds(SPECS))
    bob = next(p for p in directory.people if p.name == "bob")
    assert bob.identity("toy") == "t2"
