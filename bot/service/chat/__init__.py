"""The chat core: what every chat channel shows and answers, once.

- ``message``: a request's message, worded for every channel (``compose``);
- ``texts``: reminders, refusals, the outcome of a vote;
- ``rich``: the rich text they are written in, and ``Markup``, its renderer per channel;
- ``parse`` and ``answers``: the chat commands and the answers to the read ones;
- ``publisher``: the outbox's chat stage (claim → post → record), over a channel's
  ``Transport`` (``bot/ports/chat.py``);
- ``interactions``: clicks, commands and reasons, answered in a channel's ``Conversation``;
- ``state``: where each channel shows a request, and what a channel keeps.

A channel adds only its markup, its transport and its listeners (docs/architecture.md).
"""
