"""What the staff UI's outlet pages read: outlets a page at a time, one outlet with its kiosk credentials,
and the schemes an outlet may be approved for (writes are the use cases in ledger.usecases.outlets)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ledger.ports import UnitOfWork
from ledger.usecases.outlets import get_outlet, list_devices, list_outlets

MAX_SCHEMES_OFFERED = 1_000


@dataclasses.dataclass(frozen=True)
class OutletsPage:
    """A page of outlets by id, and every scheme's name by slug (to name their approved schemes)."""

    outlets: tuple[dict[str, Any], ...]
    has_more: bool
    scheme_names: dict[str, str]


@dataclasses.dataclass(frozen=True)
class OutletOverview:
    """One outlet, its kiosk credentials (never their secrets), and every scheme's name by slug."""

    outlet: dict[str, Any]
    devices: tuple[dict[str, Any], ...]
    scheme_names: dict[str, str]

    def device(self, device_id: str) -> dict[str, Any] | None:
        """One of this outlet's devices, if it has that one."""
        return next((device for device in self.devices if device["id"] == device_id), None)


def scheme_names(uow: UnitOfWork) -> dict[str, str]:
    """slug -> name of the schemes an outlet may be approved for, by name."""
    return {slug: name for _, slug, name in uow.books.scheme_choices()[:MAX_SCHEMES_OFFERED]}


def outlets_page(uow: UnitOfWork, *, limit: int, starting_after: str = "") -> OutletsPage:
    """Up to `limit` outlets after the `starting_after` outlet id."""
    found = list_outlets(uow, limit=limit + 1, after=starting_after)
    return OutletsPage(tuple(found[:limit]), len(found) > limit, scheme_names(uow))


def outlet_overview(uow: UnitOfWork, outlet_id: str) -> OutletOverview:
    """The outlet with its devices, or NotFound."""
    outlet = get_outlet(uow, outlet_id)
    return OutletOverview(outlet, tuple(list_devices(uow, outlet_id)), scheme_names(uow))
