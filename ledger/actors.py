"""Who did a staff action and from where: plain values the web layers build and the use cases record."""

from __future__ import annotations

import dataclasses

MAX_REMOTE_ADDRESS_LENGTH = 64  # an IPv6 address with a zone fits; anything longer is not an address


@dataclasses.dataclass(frozen=True)
class RequestOrigin:
    """Where a request came from: the credential it carried and the caller's network address."""

    key_id: str | None = None
    remote_address: str | None = None

    def __post_init__(self) -> None:
        if self.remote_address is not None and len(self.remote_address) > MAX_REMOTE_ADDRESS_LENGTH:
            object.__setattr__(self, "remote_address", self.remote_address[:MAX_REMOTE_ADDRESS_LENGTH])


NO_ORIGIN = RequestOrigin()


@dataclasses.dataclass(frozen=True)
class OnBehalf:
    """Whom a member of staff acted for and why: the resident themself, or a named third party."""

    asked_by: str  # "the resident", or the third party's name and relationship
    reason: str

    def as_detail(self) -> dict[str, str]:
        """How the staff log records it."""
        return {"asked_by": self.asked_by, "reason": self.reason}


@dataclasses.dataclass(frozen=True)
class Actor:
    """Someone acting: the name the ledger and the staff log record (e.g. `caseworker:<key id>`),
    where they acted from, and (a caseworker acting on someone's behalf) who asked and why."""

    name: str
    origin: RequestOrigin = NO_ORIGIN
    on_behalf: OnBehalf | None = None


def as_actor(actor: Actor | str) -> Actor:
    """An Actor; a bare name is a caller with no request behind it (the CLI, the demo seed, a job)."""
    return actor if isinstance(actor, Actor) else Actor(actor)
