"""Errors the rules raise.

Every error carries one line that names the problem; channels show it as is.

    DomainError
    ├── NotFound
    │   ├── UnknownRequest
    │   └── UnknownPerson
    │       └── NotAReader  (enrolled, but reading is for other groups)
    ├── Refused                 (a vote that the rules do not accept)
    │   ├── NotEligible
    │   ├── SelfApproval
    │   ├── ReasonRequired
    │   ├── AlreadyVoted
    │   ├── AlreadyDecided
    │   ├── FailedGatesNotOverridable
    │   └── Stranger    (the channel's id is not one of its own people: another workspace)
    ├── InvalidRequest          (a submission that cannot be accepted)
    ├── Forbidden               (the API token may not do this)
    └── ConfigError             (declarative config; names the field path)
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: the message is one line meant for a person."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    code = "not_found"


class UnknownRequest(NotFound):
    code = "unknown_request"

    def __init__(self, request_id: str) -> None:
        super().__init__(f"unknown approval request {request_id!r}")
        self.request_id = request_id


class UnknownPerson(NotFound):
    code = "unknown_person"

    def __init__(self, who: str) -> None:
        super().__init__(f"{who} is not a known person: add them to the config's people")
        self.who = who


class NotAReader(UnknownPerson):
    """Enrolled, but reading is for other people (``ReadAccess``). An ``UnknownPerson``, so
    every channel that refuses an unknown reader refuses this one too."""

    code = "not_a_reader"

    def __init__(self, who: str, readers: str) -> None:
        DomainError.__init__(
            self,
            f"{who} may not read requests: reading is for {readers} "
            "(APPROVAL_BOT_READ_ACCESS, docs/configuration.md)",
        )
        self.who = who


class Refused(DomainError):
    code = "refused"


class Forbidden(DomainError):
    """The caller is known but may not do this (an API token's scope or names)."""

    code = "forbidden"


class NotEligible(Refused):
    code = "not_eligible"


class SelfApproval(Refused):
    code = "self_approval"


class ReasonRequired(Refused):
    code = "reason_required"


class AlreadyVoted(Refused):
    code = "already_voted"


class AlreadyDecided(Refused):
    code = "already_decided"


class FailedGatesNotOverridable(Refused):
    code = "failed_gates"


class Stranger(Refused):
    """The channel vouches that its id for the person is none of its own people's (a user of
    another workspace of the platform, in a shared channel): never looked up, never a vote."""

    code = "stranger"


class InvalidRequest(DomainError):
    code = "invalid_request"


class InvalidField(InvalidRequest):
    """One field of what was sent is wrong (a 422 naming it, as pydantic's errors do)."""

    code = "validation_error"

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ConfigError(DomainError):
    code = "config_error"
