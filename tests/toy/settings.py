"""The toy channel's settings: on when ``APPROVAL_BOT_TOY`` says so."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from bot.adapters.plugin import ChannelSettings


class ToySettings(ChannelSettings):
    enabled: bool = Field(False, validation_alias=AliasChoices("APPROVAL_BOT_TOY"))

    def wanted(self) -> bool:
        return self.enabled
