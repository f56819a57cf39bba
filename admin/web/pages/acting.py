"""Who is acting on the schemes, bulk, expiry and shortfalls pages, and when: as the staff log records it."""

from __future__ import annotations

import datetime as dt

from admin.web.auth import context, remote_address, signed_in_user
from ledger.actors import Actor, RequestOrigin


def staff_actor() -> Actor:
    """The signed-in member of staff ("role:username") acting from this request's address."""
    user = signed_in_user()
    assert user is not None, "every page that changes something requires a signed-in user"
    return Actor(user.actor, RequestOrigin(remote_address=remote_address()))


def now() -> dt.datetime:
    """The ledger clock's time."""
    return context().clock.now()
