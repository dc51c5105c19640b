"""Names that cannot impersonate (Unicode TR39 with ICU): the config refuses invisible,
mixed-script and ASCII look-alike names and confusable pairs, one line naming both; names are
NFKC-normalised; and a requester who looks like the voter is the voter."""

from __future__ import annotations

import pytest

from bot.domain import errors, lookalike
from bot.domain.errors import ConfigError
from bot.domain.model import VoteKind
from bot.service.identity import Identity
from tests import builders
from tests.builders import parse_config

CYRILLIC_A = "\u0430"  # а
UKRAINIAN_I = "\u0456"  # і
ZWSP = "\u200b"
HYPHEN = "\u2010"  # ‐, not the ASCII hyphen-minus


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value).splitlines()


def with_person(name: str, **identities) -> dict:
    raw = builders.config_dict()
    raw["people"][name] = identities
    return raw


def test_alice_and_a_cyrillic_alice_are_refused_in_one_line_naming_both():
    lines = problems(with_person(f"{CYRILLIC_A}lice"))
    assert f"people: 'alice' and '{CYRILLIC_A}lice' look alike" in "\n".join(lines)
    assert (
        f"people.'{CYRILLIC_A}lice': mixes the scripts Cyrillic and Latin "
        "(U+0430 CYRILLIC SMALL LETTER A at position 1)"
    ) in "\n".join(lines)


def test_a_zero_width_space_is_invisible_and_refused():
    lines = problems(with_person(f"alice{ZWSP}"))
    assert "people.'alice\\u200b': contains the invisible character U+200B ZERO WIDTH SPACE " in (
        "\n".join(lines)
    )
    assert "people: 'alice' and 'alice\\u200b' look alike" in "\n".join(lines)


def test_a_ukrainian_i_is_refused():
    (line, *_) = problems(with_person(f"al{UKRAINIAN_I}ce"))
    assert line.startswith(f"people.'al{UKRAINIAN_I}ce': mixes the scripts Latin and Cyrillic")
    assert "U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I at position 3" in line


def test_a_group_with_a_unicode_hyphen_is_refused_even_alone():
    raw = builders.config_dict()
    raw["groups"] = {f"ml{HYPHEN}leads": ["alice"], "sre": ["carol"]}
    raw["policies"] = []
    assert problems(raw) == [
        f"groups.'ml{HYPHEN}leads': looks like the ASCII name 'ml-leads' but contains "
        "U+2010 HYPHEN at position 3: write it in ASCII"
    ]
    raw["groups"]["ml-leads"] = ["bob"]
    assert f"groups: 'ml{HYPHEN}leads' and 'ml-leads' look alike" in "\n".join(problems(raw))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("alice", "Alice"),  # case only
        ("rn", "m"),  # skeletons of plain ASCII
        ("sap", "\u0455\u0430\u0440"),  # Latin, and Cyrillic ѕар: each one script
        ("bob", "ｂｏｂ"),  # the same once NFKC-normalised
    ],
)
def test_confusable_pairs_are_refused(first, second):
    raw = builders.config_dict()
    raw["people"] = {first: {}, second: {}}
    raw["groups"], raw["policies"] = {}, []
    lines = problems(raw)
    assert f"people: {first!r} and {second!r} look alike (Unicode TR39 confusables" in lines[-1]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("bob\ufe0f", "invisible character U+FE0F VARIATION SELECTOR-16"),
        ("bo\u00adb", "invisible character U+00AD SOFT HYPHEN"),
        ("bob\u3164", "invisible character U+1160 HANGUL JUNGSEONG FILLER"),  # NFKC of U+3164
        ("bob\U000e0041", "invisible character U+E0041 TAG LATIN CAPITAL LETTER A"),
        ("b\u00e9\u0301b", "repeats a combining mark"),
        ("bob1\u0663", "mixes digits of different numbering systems"),
        ("\u0251lice", "looks like the ASCII name 'alice' but contains U+0251 LATIN SMALL"),
    ],
)
def test_invisible_and_lookalike_characters_are_named(name, says):
    lines = problems(with_person(name))
    assert says in lines[0], lines


@pytest.mark.parametrize(
    "name",
    [
        "José",
        "naïve",
        "Ὀδυσσεύς",
        "张伟",
        "たなか太郎",
        "김민준",
        "Ева",
        "o-brien",
        "data.team",
        "staging pipeline",
        "dave_2",
    ],
)
def test_ordinary_names_in_any_one_script_pass(name):
    directory = parse_config(with_person(name, email=f"x{len(name)}@example.com"))
    assert name in {p.name for p in directory.people}


def test_names_are_nfkc_normalised_where_they_are_defined_and_used():
    raw = builders.config_dict()
    raw["people"]["ｄａｖｅ"] = raw["people"].pop("dave")
    raw["groups"]["ｏｐｓ"] = ["ｄａｖｅ", "carol"]
    raw["policies"][0]["escalate_to"] = "ｏｐｓ"
    directory = parse_config(raw)
    assert "dave" in {p.name for p in directory.people}
    assert {g.name: g.members for g in directory.groups}["ops"] == frozenset({"dave", "carol"})
    assert directory.policies[0].escalate_to == "ops"


def test_skeletons_come_from_icu_not_a_table_of_our_own():
    assert lookalike.skeleton(f"{CYRILLIC_A}lice") == "alice"
    assert lookalike.skeleton(f"ml{HYPHEN}leads") == lookalike.skeleton("ml-leads")
    assert not lookalike.looks_like("alice", "bob")


def test_a_requester_who_looks_like_the_voter_is_the_voter(service):
    """The API's ``requested_by`` is whatever the pipeline calls itself; one that looks like
    an approver (here Cyrillic ``а``) must not let that approver approve their own model."""
    service.admin.apply(builders.directory())
    rid = service.commands.submit(builders.submission(requested_by=f"{CYRILLIC_A}lice")).request.id
    with pytest.raises(errors.SelfApproval):
        service.commands.vote(rid, Identity("cli", "alice"), VoteKind.APPROVE)
    service.commands.vote(rid, Identity("cli", "bob"), VoteKind.APPROVE)
    assert [v.person for v in service.queries.get(rid).votes] == ["bob"]
