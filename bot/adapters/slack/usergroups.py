"""Group membership from Slack user groups, for groups declared with ``slack_usergroup``.

Slack is asked at most once per TTL per user group (``usergroups.users.list``),
and at most once at a time; when Slack cannot answer, the last known members are
used, and with none known nobody is a member (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.markup import SOURCE
from bot.service.queries import Queries

log = logging.getLogger("bot.slack.usergroups")


class UsergroupDirectory:
    """Which of our synced groups a Slack user belongs to, cached for ``ttl`` seconds."""

    def __init__(
        self,
        client: AsyncWebClient,
        queries: Queries,
        *,
        ttl: float = 300.0,
        config_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.queries = queries
        self.ttl = ttl
        self.config_ttl = config_ttl
        self.clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}  # id -> (expires, users)
        self._synced: tuple[float, tuple[tuple[str, str], ...]] | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    async def groups_of(self, user_id: str) -> frozenset[str]:
        """Names of the synced groups whose Slack user group has ``user_id``."""
        synced = await self.synced_groups()
        names = set()
        for name, usergroup in synced:
            if user_id in await self.members(usergroup):
                names.add(name)
        return frozenset(names)

    async def synced_groups(self) -> tuple[tuple[str, str], ...]:
        """(group name, Slack user group id) for each group that declares one."""
        now = self.clock()
        if self._synced is None or self._synced[0] <= now:
            directory = await asyncio.to_thread(self.queries.directory)
            value = tuple(
                (g.name, usergroup)
                for g in directory.groups
                if (usergroup := g.source(SOURCE)) is not None
            )
            self._synced = (now + self.config_ttl, value)
        return self._synced[1]

    async def members(self, usergroup: str) -> frozenset[str]:
        entry = self._members.get(usergroup)
        if entry is not None and entry[0] > self.clock():
            return entry[1]
        lock = self._locks.setdefault(usergroup, asyncio.Lock())
        async with lock:  # one fetch per user group at a time; the others reuse it
            entry = self._members.get(usergroup)
            if entry is not None and entry[0] > self.clock():
                return entry[1]
            try:
                response = await self.client.usergroups_users_list(usergroup=usergroup)
                users = frozenset(str(u) for u in response.get("users") or ())
            except (SlackApiError, OSError, TimeoutError) as exc:
                stale = entry[1] if entry is not None else frozenset()
                log.warning(
                    "usergroups.users.list %s failed (%s); using %d known member(s)",
                    usergroup,
                    exc,
                    len(stale),
                )
                # Ask again soon, not at once: Slack may be rate limiting us.
                self._members[usergroup] = (self.clock() + min(self.ttl, 30.0), stale)
                return stale
            self._members[usergroup] = (self.clock() + self.ttl, users)
            return users
