from __future__ import annotations

import pytest

from bot.domain.errors import ConfigError
from bot.domain.policy import CanaryError, CanarySpec
from tests import builders
from tests.builders import parse_config


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value).splitlines()


def test_example_config_parses():
    d = parse_config(builders.config_dict())
    assert [p.name for p in d.people] == ["alice", "bob", "carol", "dave"]
    assert {g.name: sorted(g.members) for g in d.groups} == {
        "ml-leads": ["alice", "bob"],
        "sre": ["carol"],
    }
    (policy,) = d.policies
    assert policy.escalate_to == "sre" and policy.deadline.total_seconds() == 48 * 3600


def test_unknown_group_in_rule_names_the_path():
    raw = builders.config_dict(
        policies=builders.policy_patch(
            rules=[{"group": "ml-leads", "min_approvals": 1}, {"group": "sec", "min_approvals": 1}]
        )
    )
    assert problems(raw) == ["policies[0].rules[1].group: unknown group 'sec'"]


def test_duplicate_slack_and_telegram_ids():
    raw = builders.config_dict()
    raw["people"]["bob"] = {"slack": "U01ALICE", "telegram": 1001}
    assert problems(raw) == [
        "people.bob.slack: U01ALICE is already alice's slack id",
        "people.bob.telegram: 1001 is already alice's telegram id",
    ]


def test_telegram_stand_in_ids_are_refused_naming_them():
    """1087968824 (every anonymous admin), 136817688 (whoever writes as a channel) and
    777000 (channel posts) are Telegram's stand-ins: enrolling one lets everyone behind it
    vote as that person."""
    raw = builders.config_dict()
    raw["people"]["bob"]["telegram"] = 1087968824
    raw["people"]["carol"]["telegram"] = "136817688"
    raw["people"]["dave"]["telegram"] = 777000
    assert problems(raw) == [
        "people.bob.telegram: 1087968824 is Telegram's GroupAnonymousBot (every anonymous "
        "group admin), not a person's id",
        "people.carol.telegram: 136817688 is Telegram's Channel_Bot (whoever writes as a "
        "channel), not a person's id",
        "people.dave.telegram: 777000 is Telegram's service account (channel posts forwarded "
        "to a group), not a person's id",
    ]


def test_telegram_stand_ins_are_the_sdks() -> None:
    from telegram.constants import ChatID

    from bot.adapters.telegram import ANONYMOUS_ADMIN, FAKE_CHANNEL, SERVICE_CHAT

    assert (ANONYMOUS_ADMIN, FAKE_CHANNEL, SERVICE_CHAT) == (
        ChatID.ANONYMOUS_ADMIN,
        ChatID.FAKE_CHANNEL,
        ChatID.SERVICE_CHAT,
    )


def test_unknown_key_names_the_path():
    raw = builders.config_dict()
    raw["people"]["alice"]["slak"] = "U1"
    raw["policies"][0]["deadlin"] = "1h"
    raw["colour"] = "blue"
    assert sorted(problems(raw)) == sorted(
        [
            "people.alice.slak: unknown key (the channels here identify people by email, "
            "slack or telegram)",
            "policies[0].deadlin: unknown key",
            "colour: unknown key",
        ]
    )


def test_bad_duration_names_the_path():
    raw = builders.config_dict(policies=builders.policy_patch(deadline="2 days"))
    (line,) = problems(raw)
    assert line.startswith("policies[0].deadline: bad duration '2 days'")


def test_unknown_member_and_escalation_group():
    raw = builders.config_dict(
        groups={"ml-leads": ["alice", "zed"], "sre": ["carol"]},
        policies=builders.policy_patch(escalate_to="oncall"),
    )
    assert problems(raw) == [
        "groups.ml-leads[1]: unknown person 'zed'",
        "policies[0].escalate_to: unknown group 'oncall'",
    ]


def test_bad_types_and_values():
    raw = builders.config_dict(
        policies=builders.policy_patch(
            on_expiry="delete", rules=[{"group": "sre", "min_approvals": 0}]
        )
    )
    lines = problems(raw)
    assert any(line.startswith("policies[0].rules[0].min_approvals:") for line in lines)
    assert any(line.startswith("policies[0].on_expiry:") for line in lines)


def test_group_with_slack_usergroup_form():
    raw = builders.config_dict(
        groups={"ml-leads": {"members": ["alice"], "slack_usergroup": "S0123"}, "sre": ["carol"]}
    )
    d = parse_config(raw)
    assert next(g for g in d.groups if g.name == "ml-leads").source("slack_usergroup") == "S0123"


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config(["people"])


# -- a policy's canary (docs/kserve.md, "Canary") ---------------------------------------


def test_a_policy_canary_parses_with_the_default_steps_and_its_dwell():
    raw = builders.config_dict(policies=builders.policy_patch(canary={"dwell_seconds": 120}))
    (policy,) = parse_config(raw).policies
    assert policy.canary == CanarySpec((10, 25, 50, 100), 120)
    (plain,) = parse_config(builders.config_dict()).policies
    assert plain.canary is None


@pytest.mark.parametrize(
    ("canary", "line"),
    [
        ({"steps": [10, 50]}, "policies[0].canary.steps: [10, 50] must end at 100"),
        ({"steps": [50, 25, 100]}, "policies[0].canary.steps: [50, 25, 100] must rise strictly"),
        ({"steps": [10, 10, 100]}, "policies[0].canary.steps: [10, 10, 100] must rise strictly"),
        ({"steps": [0, 100]}, "policies[0].canary.steps: 0 is not a percentage from 1 to 100"),
        ({"steps": [10, 110]}, "policies[0].canary.steps: 110 is not a percentage from 1 to 100"),
        ({"steps": []}, "policies[0].canary.steps: no steps"),
        ({"dwell_seconds": 0}, "policies[0].canary.dwell_seconds: 0 is not a number of seconds"),
        (
            {"dwell_seconds": 86401},
            "policies[0].canary.dwell_seconds: 86401 is not a number of seconds from 1 to 86400",
        ),
    ],
)
def test_a_bad_policy_canary_is_one_line_naming_the_field(canary, line):
    raw = builders.config_dict(policies=builders.policy_patch(canary=canary))
    (found,) = problems(raw)
    assert found.startswith(line), found
    assert 'docs/kserve.md, "Canary"' in found


@pytest.mark.parametrize(
    ("canary", "at"),
    [
        ({"steps": "10,25,100"}, "policies[0].canary.steps:"),
        ({"steps": [10, "fifty", 100]}, "policies[0].canary.steps[1]:"),
        ({"steps": [10, True, 100]}, "policies[0].canary.steps[1]:"),
        ({"dwell_seconds": "5m"}, "policies[0].canary.dwell_seconds:"),
        ({"dwell": 300}, "policies[0].canary.dwell: unknown key"),
    ],
)
def test_a_policy_canary_of_the_wrong_type_names_the_field(canary, at):
    raw = builders.config_dict(policies=builders.policy_patch(canary=canary))
    (found,) = problems(raw)
    assert found.startswith(at), found


def test_canary_spec_refuses_what_the_pipeline_would():
    with pytest.raises(CanaryError) as bad:
        CanarySpec.of((25, 100), dwell_seconds=-1)
    assert bad.value.field == "dwell_seconds"
    spec = CanarySpec.of((5, 100), 60)
    assert spec.parameters() == {"canary_steps": "5,100", "canary_dwell_seconds": 60}
    assert CanarySpec.from_json(spec.as_json()) == spec
    assert CanarySpec.from_json(None) is None
