"""Names that cannot impersonate, by Unicode Technical Standard #39 (security mechanisms),
as ICU implements it (``icu``, from the pinned ``pyicu-wheels``: PyICU with ICU inside).

A person's or group's name is NFKC-normalised (``ａｌｉｃｅ`` is ``alice``) and refused when:

- it holds an **invisible** character: a default-ignorable code point (zero-width space and
  joiners, soft hyphen, variation selectors, Hangul fillers, tags…), a format or private-use
  or unassigned character, a line or paragraph separator, a space other than U+0020, or the
  same combining mark twice (ICU's ``INVISIBLE`` check);
- it **mixes scripts** beyond TR39's "highly restrictive" level (``аlice``: Cyrillic ``а``
  among Latin letters; Latin with Han and Japanese kana, or with Hangul, is allowed), or mixes
  digits of different systems;
- it is an **ASCII look-alike**: Latin (or script-neutral) characters that are not ASCII but
  whose TR39 skeleton is, such as ``ml‐leads`` with U+2010 HYPHEN or ``ɑlice`` with Latin
  alpha: a name people would type as ASCII and could not tell apart.

Two names are **confusable** when their skeletons agree, as written or case-folded
(``alice`` and ``Alice``, ``rn`` and ``m``); ``collisions`` finds such pairs. The rules
compare ``looks_like`` too: a request whose requester looks like the voter is the voter's.

ICU's data is loaded on first use (about 10 MB), never at import.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Any

from bot.domain.people import Person

NEUTRAL_SCRIPTS = frozenset({"Common", "Inherited"})
_INVISIBLE = (
    "[[:Default_Ignorable_Code_Point:][:Cf:][:Cc:][:Co:][:Cs:][:Cn:][:Zl:][:Zp:]"
    "[[:White_Space:]-[\\u0020]]]"
)


@cache
def _icu() -> tuple[Any, Any, Any]:
    """(the module, a configured SpoofChecker, the invisible characters' UnicodeSet)."""
    import icu

    checker = icu.SpoofChecker()
    checks = icu.USpoofChecks
    checker.setChecks(checks.RESTRICTION_LEVEL | checks.INVISIBLE | checks.MIXED_NUMBERS)
    checker.setRestrictionLevel(icu.URestrictionLevel.HIGHLY_RESTRICTIVE)
    return icu, checker, icu.UnicodeSet(_INVISIBLE)


def normalise(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'an unnamed character')}"


def _script(ch: str) -> str:
    icu, _, _ = _icu()
    return str(icu.Script.getScript(ch).getName())


def skeleton(name: str) -> str:
    """The TR39 skeleton of ``name`` (NFKC first): equal skeletons look alike."""
    _, checker, _ = _icu()
    return str(checker.getSkeleton(0, normalise(name)))


def _keys(name: str) -> tuple[str, str]:
    return skeleton(name), skeleton(name.casefold())


def looks_like(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same or confusable (as written, or case-folded)."""
    if a == b:
        return True
    ka, kb = _keys(a), _keys(b)
    return ka[0] == kb[0] or ka[1] == kb[1]


def problem(name: str) -> str | None:
    """Why ``name`` (already NFKC) could pass for another, or None."""
    icu, checker, invisible = _icu()
    for i, ch in enumerate(name, start=1):
        if invisible.contains(ch):
            return f"contains the invisible character {_describe(ch)} at position {i}"
    failed = int(checker.check(name))
    if failed & int(icu.USpoofChecks.INVISIBLE):
        return "repeats a combining mark on one letter (it displays once)"
    if failed & int(icu.USpoofChecks.MIXED_NUMBERS):
        return "mixes digits of different numbering systems"
    scripts = [s for s in map(_script, name) if s not in NEUTRAL_SCRIPTS]
    if failed & int(icu.USpoofChecks.RESTRICTION_LEVEL):
        return _mixed(name, scripts)
    if not name.isascii() and set(scripts) <= {"Latin"}:
        shown = skeleton(name)
        if shown.isascii():
            return _ascii_lookalike(name)
    return None


def _mixed(name: str, scripts: list[str]) -> str:
    counts = {s: scripts.count(s) for s in scripts}
    if len(counts) < 2:
        return "mixes scripts (Unicode TR39): write it in one script"
    rare = min(counts, key=lambda s: (counts[s], scripts.index(s)))
    i, ch = next((i, ch) for i, ch in enumerate(name, start=1) if _script(ch) == rare)
    listed = " and ".join(dict.fromkeys(scripts))
    return (
        f"mixes the scripts {listed} ({_describe(ch)} at position {i}), so it can look like "
        "another name: write it in one script"
    )


def _ascii_lookalike(name: str) -> str:
    i, ch = next((i, ch) for i, ch in enumerate(name, start=1) if not ch.isascii())
    plain = "".join(c if c.isascii() else skeleton(c) for c in name)
    return (
        f"looks like the ASCII name {plain!r} but contains {_describe(ch)} at position {i}: "
        "write it in ASCII"
    )


def collisions(names: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of ``names`` that look alike (each later name with the first it resembles)."""
    seen: dict[str, str] = {}
    pairs = []
    for name in names:
        keys = _keys(name)
        first = next((seen[k] for k in keys if k in seen), None)
        if first is not None and first != name:
            pairs.append((first, name))
        for key in keys:
            seen.setdefault(key, name)
    return pairs


def resembles(person: Person, name: str) -> bool:
    """Does ``name`` look like the person's name or one of their ids (a requester who looks
    like an approver is that approver, for the self-approval rule)?"""
    ids = (person.name, *(value for _kind, value in person.ids))
    return any(looks_like(v, name) for v in ids)
