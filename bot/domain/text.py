"""Text the bot accepts from anyone: no control characters anywhere (line breaks and tabs
only in free text such as comments), and no bidi overrides in names, so that a model name
cannot display as another.
"""

from __future__ import annotations

# C0 and C1 control characters, and DEL.
CONTROL = frozenset(map(chr, (*range(0x00, 0x20), *range(0x7F, 0xA0))))
LINE_BREAKS = frozenset("\t\n\r")
# Embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069).
BIDI_OVERRIDES = frozenset(map(chr, (*range(0x202A, 0x202F), *range(0x2066, 0x206A))))

# The same rules as regular expressions, for the API's schema (ECMA, Python and Rust agree).
# A name holds something besides spaces (names are stripped); a line may be empty.
_C = r"\x00-\x1f\x7f-\x9f"
_CB = _C + r"\u202a-\u202e\u2066-\u2069"
NAME_PATTERN = rf"^[^{_CB}]*[^\s{_CB}][^{_CB}]*$"
LINE_PATTERN = rf"^[^{_C}]*$"
WORD_PATTERN = rf"^[^{_C}]*[^\s{_C}][^{_C}]*$"  # a line with something besides spaces


def problem(text: str, *, name: bool = False, multiline: bool = False) -> str | None:
    """What is wrong with ``text``, or None. ``name``: bidi overrides are refused too;
    ``multiline``: line breaks and tabs are allowed."""
    for i, ch in enumerate(text, start=1):
        if ch in CONTROL and not (multiline and ch in LINE_BREAKS):
            return (
                f"contains the control character U+{ord(ch):04X} at position {i}; "
                "control characters are not allowed"
            )
        if name and ch in BIDI_OVERRIDES:
            return (
                f"contains the bidi override U+{ord(ch):04X} at position {i}, which can make "
                "a name display as another; it is not allowed in names"
            )
    return None


def blank_or_problem(text: str, *, name: bool = False) -> str:
    """Why ``text`` does not match its pattern: its characters, or that it is blank."""
    return problem(text, name=name) or "must not be empty"


def is_plain(text: str) -> bool:
    """No control characters at all (ids, names and filters can be looked up)."""
    return not any(ch in CONTROL for ch in text)


COMMENT_MAX = 2000  # a vote's comment, a rejection's reason (a chat's reason form holds as much)


def comment_problem(comment: str) -> str | None:
    """What is wrong with a comment or reason (control characters, length), or None."""
    if len(comment) > COMMENT_MAX:
        return f"at most {COMMENT_MAX} characters (got {len(comment)})"
    return problem(comment, multiline=True)
