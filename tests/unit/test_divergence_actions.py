"""What a person may do about a divergence (bot/domain/divergence.py, docs/watch.md): the
alert's buttons follow what is possible, one action per divergence, and each action's effects
(its own, and the alert's update) have keys of their own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import errors
from bot.domain.divergence import (
    ALIAS_BACK,
    DEPLOY_CHAMPION,
    Champion,
    Divergence,
    Observation,
    Served,
    WatchTarget,
)
from bot.domain.effects import ALIAS_BACK as ALIAS_BACK_EFFECT
from bot.domain.effects import CHAT_ALERT, alerts
from bot.domain.effects import DEPLOY_CHAMPION as DEPLOY_EFFECT
from bot.service.chat.alerts import alert_buttons, alert_lines
from bot.service.chat.rich import plain

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def seen(*, champion: str | None = "2", served_version: str | None = "1") -> Divergence:
    return Divergence.detect(
        Observation(
            WatchTarget("iris", "models/iris-serving"),
            Served("s3://a/1"),
            Champion(champion, f"s3://a/{champion}" if champion else None),
            served_version=served_version,
        ),
        NOW,
    )


def test_the_buttons_offer_only_what_is_possible() -> None:
    assert alert_buttons(seen()).actions == (DEPLOY_CHAMPION, ALIAS_BACK)  # type: ignore[union-attr]
    only_back = alert_buttons(seen(champion=None))
    assert only_back is not None and only_back.actions == (ALIAS_BACK,)
    only_deploy = alert_buttons(seen(served_version=None))
    assert only_deploy is not None and only_deploy.actions == (DEPLOY_CHAMPION,)
    assert alert_buttons(seen(champion=None, served_version=None)) is None


def test_nothing_to_deploy_without_a_champion_nor_back_without_a_served_version() -> None:
    with pytest.raises(errors.Refused, match="names no version: there is nothing to deploy"):
        seen(champion=None).deploy_champion("carol", NOW)
    with pytest.raises(errors.Refused, match="no version to move @champion back to"):
        seen(served_version=None).move_alias_back("carol", NOW)


def test_one_action_per_divergence_and_none_once_resolved() -> None:
    d = seen()
    d.deploy_champion("carol", NOW)
    assert d.asked == {"action": DEPLOY_CHAMPION, "by": "carol", "at": NOW.isoformat()}
    assert alert_buttons(d) is None
    assert any(
        "carol" in plain(line) and "deploy the champion" in plain(line) for line in alert_lines(d)
    )
    with pytest.raises(errors.Refused, match="carol asked already to deploy the champion"):
        d.move_alias_back("bob", NOW)
    with pytest.raises(errors.Refused, match="asked already"):
        d.deploy_champion("bob", NOW)
    resolved = seen()
    resolved.resolve(NOW, "agree")
    with pytest.raises(errors.Refused, match="resolved already"):
        resolved.deploy_champion("carol", NOW)


def test_each_action_has_its_effect_and_an_alert_update_with_keys_of_its_own() -> None:
    d = seen()
    d.events.clear()
    d.move_alias_back("carol", NOW)
    [event] = d.events
    effects = alerts(d, event, ("slack", "telegram"))
    assert [e.kind for e in effects] == [ALIAS_BACK_EFFECT, CHAT_ALERT, CHAT_ALERT]
    assert len({e.key for e in effects}) == 3
    assert all(event.id in e.key for e in effects), "a later action is a row of its own"

    other = seen()
    other.events.clear()
    other.deploy_champion("carol", NOW)
    [event] = other.events
    [deploy, *updates] = alerts(other, event, ("slack",))
    assert deploy.kind == DEPLOY_EFFECT and deploy.payload["version"] == "2"
    assert deploy.payload["service"] == "models/iris-serving"
    assert [u.payload["channel"] for u in updates] == ["slack"]
    assert not any(u.key.startswith(f"divergence:{other.id}:serving_diverged:") for u in updates)
