"""The web console's settings (docs/configuration.md, "Web console")."""

from __future__ import annotations

import ipaddress

from pydantic import AliasChoices, Field, field_validator

from bot.adapters.plugin import ChannelSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ConsoleSettings(ChannelSettings):
    enabled: bool = Field(True, validation_alias=_env("APPROVAL_BOT_CONSOLE"))
    local_email: str | None = Field(None, validation_alias=_env("APPROVAL_BOT_CONSOLE_LOCAL_EMAIL"))
    trusted_header: str | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_CONSOLE_TRUSTED_HEADER")
    )
    trusted_proxies: str | None = Field(
        None, validation_alias=_env("APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES")
    )

    def wanted(self) -> bool:
        return True  # always: it is where requests are shown when no chat is set up

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        for part in (value or "").split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part.strip()!r} is not an IP address or network "
                        "(e.g. 10.0.0.5, 10.0.0.0/24, ::1)"
                    ) from None
        return value

    def proxies(self) -> tuple[Network, ...]:
        """``APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES`` as networks."""
        parts = (self.trusted_proxies or "").split(",")
        return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in parts if p.strip())
