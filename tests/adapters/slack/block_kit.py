"""Block Kit as Slack checks it: what the strict fake Slack refuses, and how it says so.

Two sources, in this order:

1. The Slack SDK's own models (``slack_sdk.models.blocks`` and ``slack_sdk.models.views``):
   each block is parsed into its model and serialised, which runs the SDK's validators (a
   section's text at most 3,000 characters and 10 fields, a header's 150, a button's text
   75 and value 2,000, a confirm dialog's title 100, text 300, buttons 30, a context's 10
   elements, an actions block's 25, a modal's title/submit/close 24, its private_metadata
   3,000, its 1 to 100 blocks, ...). An unknown block type is refused (the SDK skips it).
2. What the SDK does not check, from Slack's reference (docs.slack.dev/reference/block-kit):
   - text object (composition-objects/text-object): ``type`` is ``plain_text`` or
     ``mrkdwn``; ``text`` is 1 to 3,000 characters;
   - the fields that take ``plain_text`` only: a header's text (blocks/header-block), a
     button's text (block-elements/button-element), every field of a confirmation dialog
     (composition-objects/confirmation-dialog-object: "title, text, confirm, deny: a
     plain_text text object"), an input block's label and hint (blocks/input-block), a
     modal's title, submit and close (surfaces/modals, "view object"), an input element's
     placeholder;
   - a section's fields: each at most 2,000 characters (blocks/section-block);
   - a message holds up to 50 blocks, a modal up to 100 (reference/block-kit/blocks);
   - ``block_id`` unique in a message or view, ``action_id`` unique in its block
     (blocks/actions-block, block-elements: "should be unique among all other action_ids in
     the containing block");
   - a modal with an input block needs ``submit`` (surfaces/modals, "view object").

Lengths are counted in characters (code points), as the SDK counts them.

Slack answers a message it will not take with ``invalid_blocks`` and the reasons as
``[ERROR] <why> [json-pointer:/blocks/N/...]`` (the shape the SDK's maintainers quote in
slackapi/java-slack-sdk#1017), a view with ``invalid_arguments`` and the same messages
(jeremeamia/slack-block-kit#3 shows ``[ERROR] must be less than 24 characters
[json-pointer:/view/title/text]``), and a response URL with HTTP 400 ``invalid_blocks``
(slackapi/java-slack-sdk#1017).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ButtonElement,
    HeaderBlock,
    InputBlock,
    SectionBlock,
)
from slack_sdk.models.blocks.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50  # reference/block-kit/blocks: "up to 50 blocks in each message"
VIEW_BLOCKS = View.blocks_max_length  # 100
TEXT_MIN, TEXT_MAX = 1, SectionBlock.text_max_length  # composition-objects/text-object: 1..3000
FIELD_MAX = 2000  # blocks/section-block: "each item ... 2000 characters"
MESSAGE_TEXT_MAX = 40_000  # chat.postMessage: text over 40,000 characters is msg_too_long
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
# (object type, key) whose text object must be plain_text
PLAIN_ONLY = {
    (HeaderBlock.type, "text"),
    (ButtonElement.type, "text"),
    (InputBlock.type, "label"),
    (InputBlock.type, "hint"),
    ("modal", "title"),
    ("modal", "submit"),
    ("modal", "close"),
    ("plain_text_input", "placeholder"),
    ("confirm", "title"),
    ("confirm", "text"),
    ("confirm", "confirm"),
    ("confirm", "deny"),
}

# A special mention that notifies a whole channel (reference/surfaces/formatting, "Special
# mentions"): written as <!here>, <!channel>, <!everyone> (optionally with |label), or as a
# bare word that Slack parses itself where it auto-parses (a mrkdwn text object without
# ``verbatim: true``: "certain mentions will be automatically parsed").
SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
BARE_SPECIAL = re.compile(r"(?<![\w@])@(here|channel|everyone)\b")

_quiet = logging.getLogger("slack_sdk.models")


def _error(why: str, pointer: str) -> str:
    return f"[ERROR] {why} [json-pointer:{pointer}]"


def message_problems(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Why Slack would refuse these ``blocks`` of a message (empty: it takes them)."""
    if not isinstance(blocks, list):
        return [_error("expected an array of blocks", "/blocks")]
    problems = []
    if len(blocks) > limit:
        problems.append(_error(f"no more than {limit} items allowed", "/blocks"))
    problems += _blocks(blocks, "/blocks")
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view (``views.open``, ``views.update``)."""
    if not isinstance(view, dict):
        return [_error("expected a view object", "/view")]
    problems = []
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError) as exc:
        problems.append(_error(str(exc), "/view"))
    for key in ("title", "submit", "close"):
        if key in view:
            problems += _text(
                view[key], f"/view/{key}", plain_only=(view.get("type"), key) in PLAIN_ONLY
            )
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, _error("expected an array of blocks", "/view/blocks")]
    has_input = any(isinstance(b, dict) and b.get("type") == InputBlock.type for b in blocks)
    if has_input and view.get("type") == "modal" and "submit" not in view:
        problems.append(_error("submit is required when the view has an input block", "/view"))
    return problems + _blocks(blocks, "/view/blocks")


def _blocks(blocks: list[Any], at: str) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        pointer = f"{at}/{i}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(_error("a block is an object with a type", pointer))
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(_error(f"duplicate block_id {block_id!r}", f"{pointer}/block_id"))
            seen.add(block_id)
        problems += _sdk(block, pointer)
        problems += list(_walk(block, pointer))
        problems += _actions_unique(block, pointer)
        if block["type"] == SectionBlock.type:
            for n, item in enumerate(block.get("fields") or ()):
                text = item.get("text") if isinstance(item, dict) else None
                if isinstance(text, str) and len(text) > FIELD_MAX:
                    problems.append(
                        _error(
                            f"must be less than {FIELD_MAX + 1} characters",
                            f"{pointer}/fields/{n}/text",
                        )
                    )
    return problems


def _sdk(block: dict[str, Any], pointer: str) -> list[str]:
    """The SDK's model of the block, serialised: its validators run on every object in it."""
    disabled = _quiet.disabled
    _quiet.disabled = True  # the SDK logs and skips what it does not know; we refuse it
    try:
        model = Block.parse(dict(block))
        if model is None:
            return [_error(f"unsupported block type {block['type']!r}", f"{pointer}/type")]
        model.to_dict()
    except (SlackObjectFormationError, TypeError, KeyError, AttributeError) as exc:
        return [_error(str(exc) or type(exc).__name__, pointer)]
    finally:
        _quiet.disabled = disabled
    return []


def _walk(node: Any, pointer: str, owner: str | None = None) -> Iterator[str]:
    """Text objects anywhere in ``node``: their type and length, and plain_text where only
    that is allowed."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, dict) and _is_text(item):  # a section's fields, a context's
                yield from _text(item, f"{pointer}/{i}", plain_only=False)
            else:
                yield from _walk(item, f"{pointer}/{i}", owner)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type") or owner
    for key, value in node.items():
        child = f"{pointer}/{key}"
        if isinstance(value, dict) and _is_text(value):
            yield from _text(value, child, plain_only=(kind, key) in PLAIN_ONLY)
        elif key == "confirm" and isinstance(value, dict):
            yield from _walk(value, child, "confirm")
        elif isinstance(value, dict | list):
            yield from _walk(value, child)


def _is_text(value: dict[str, Any]) -> bool:
    return value.get("type") in TEXT_TYPES or ("text" in value and isinstance(value["text"], str))


def _text(value: Any, pointer: str, *, plain_only: bool) -> list[str]:
    if not isinstance(value, dict) or value.get("type") not in TEXT_TYPES:
        return [_error("expected a text object (plain_text or mrkdwn)", pointer)]
    problems = []
    if plain_only and value["type"] != "plain_text":
        problems.append(_error("must be a plain_text text object", f"{pointer}/type"))
    text = value.get("text")
    if not isinstance(text, str) or len(text) < TEXT_MIN:
        problems.append(_error(f"must be more than {TEXT_MIN - 1} characters", f"{pointer}/text"))
    elif len(text) > TEXT_MAX:
        problems.append(_error(f"must be less than {TEXT_MAX + 1} characters", f"{pointer}/text"))
    return problems


def _actions_unique(block: dict[str, Any], pointer: str) -> list[str]:
    ids = [e.get("action_id") for e in block.get("elements") or () if isinstance(e, dict)]
    ids = [i for i in ids if i is not None]
    if len(ids) != len(set(ids)):
        return [_error("action_id must be unique in its block", f"{pointer}/elements")]
    return []


def special_mentions(text: Any, *, auto_parsed: bool) -> list[str]:
    """The channel-wide mentions ``text`` makes (``auto_parsed``: bare ``@here`` counts)."""
    if not isinstance(text, str):
        return []
    found = [m.group(1) for m in SPECIAL.finditer(text)]
    if auto_parsed:
        found += [m.group(1) for m in BARE_SPECIAL.finditer(text)]
    return found


def block_mentions(node: Any) -> list[str]:
    """The channel-wide mentions in the text objects of ``node`` (blocks or a view)."""
    if isinstance(node, list):
        return [m for item in node for m in block_mentions(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
        return special_mentions(node["text"], auto_parsed=node.get("verbatim") is not True)
    return [m for value in node.values() for m in block_mentions(value)]
