"""What several staff UI browser tests start from: a funded leisure scheme and a library that takes it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from clubcard.context import LedgerContext
from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.common import ensure_account
from ledger.usecases.outlets import create_outlet
from ledger.usecases.schemes import create_scheme


@dataclasses.dataclass(frozen=True)
class LibraryScheme:
    """The scheme, the outlet and the outlet's payable account (what a spend there credits)."""

    scheme: Any
    outlet: Any
    payable_account_id: str


def leisure_scheme_at_a_library(
    context: LedgerContext, *, funded_minor: int, at: dt.datetime
) -> LibraryScheme:
    """A pounds leisure scheme funded with `funded_minor`, and Castle Library taking it, all made at `at`."""
    scheme = context.write(
        lambda uow: create_scheme(
            uow, slug="leisure", name="Leisure vouchers", unit=Unit.GBP, rules={}, now=at, actor="t"
        )
    )
    outlet = context.write(
        lambda uow: create_outlet(
            uow, name="Castle Library", categories=["leisure"], schemes=["leisure"], now=at, actor="t"
        )
    )
    payable = context.write(
        lambda uow: ensure_account(
            uow, name=f"outlet:{outlet['id']}:payable:GBP", kind=AccountKind.PAYABLE, unit=Unit.GBP,
            floor_minor=None, now=at,
        )
    ).id  # fmt: skip
    context.write(
        lambda uow: flows.fund(uow, scheme=scheme, amount_minor=funded_minor, now=at, actor="t", key="f")
    )
    return LibraryScheme(scheme=scheme, outlet=outlet, payable_account_id=str(payable))
