"""A small ledger for the books pages' tests: two schemes in two units, an outlet that took a spend and
refunded one, and a signed checkpoint; driven through the use cases the API and the UI call."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import time
from typing import Any

from ledger.units import AccountKind, Unit
from ledger.usecases import flows
from ledger.usecases.checkpoints import seal
from ledger.usecases.common import ensure_account
from ledger.usecases.outlets import create_outlet
from ledger.usecases.schemes import create_scheme
from tests.support.staff_web import StaffWeb

HOUR = dt.timedelta(hours=1)
# PostgreSQL seals only behind the server's oldest open transaction; other work may hold it: poll.
SEAL_PATIENCE_SECONDS = 60  # another session's long transaction holds the safe sealing point back
_LINK = re.compile(r'href="(/admin/[^"#]*)"')


@dataclasses.dataclass
class Ledger:
    """What the tests look for: the schemes, the outlet, and the transactions in order."""

    leisure: dict[str, Any]
    timebank: dict[str, Any]
    outlet: dict[str, Any]
    payable_account_id: str
    wallet_account_id: str
    fund_id: str
    issue_id: str
    spend_id: str
    refund_id: str
    hours_id: str
    spent_at: dt.datetime


def _flow(web: StaffWeb, flow: Any, key: str, **kwargs: Any) -> Any:
    kwargs.setdefault("actor", "test")
    return web.context.write(lambda uow: flow(uow, now=web.clock.now(), key=key, **kwargs))


def _scheme(web: StaffWeb, slug: str, name: str, unit: Unit) -> dict[str, Any]:
    data: dict[str, Any] = {"slug": slug, "name": name, "unit": unit, "rules": {}, "actor": "test"}
    return dict(web.context.write(lambda uow: create_scheme(uow, **data, now=web.clock.now())))


def small_ledger(web: StaffWeb) -> Ledger:
    """Fund, issue, spend at an outlet, refund it, a time bank: one hour apart each, then seal."""
    leisure = _scheme(web, "leisure", "Leisure vouchers", Unit.GBP)
    timebank = _scheme(web, "timebank", "Time bank", Unit.HOUR)
    outlet = web.context.write(
        lambda uow: create_outlet(
            uow,
            name="Riverside Leisure",
            categories=["leisure"],
            schemes=["leisure"],
            now=web.clock.now(),
            actor="t",
        )
    )
    payable = web.context.write(
        lambda uow: ensure_account(
            uow, name=f"outlet:{outlet['id']}:payable:GBP", kind=AccountKind.PAYABLE, unit=Unit.GBP,
            floor_minor=None, now=web.clock.now(),
        )
    ).id  # fmt: skip
    fund = _flow(web, flows.fund, "f1", scheme=leisure, amount_minor=10_000)
    web.clock.advance(HOUR)
    issue = _flow(web, flows.issue, "i1", scheme=leisure, owner_id="r1", amount_minor=3_000)
    web.clock.advance(HOUR)
    spent_at = web.clock.now()
    spend = _flow(
        web, flows.spend, "s1", scheme=leisure, owner_id="r1", amount_minor=1_250, categories=None,
        payable_account_id=payable, outlet_id=outlet["id"],
    )  # fmt: skip
    web.clock.advance(HOUR)
    refund = _flow(web, flows.reverse, "r1", transaction_id=spend.transaction_id)
    web.clock.advance(HOUR)
    _flow(web, flows.fund, "f2", scheme=timebank, amount_minor=600)
    web.clock.advance(HOUR)
    hours = _flow(web, flows.issue, "i2", scheme=timebank, owner_id="r2", amount_minor=90)
    web.clock.advance(HOUR)
    seal_everything(web)
    return Ledger(
        leisure=leisure,
        timebank=timebank,
        outlet=outlet,
        payable_account_id=payable,
        wallet_account_id=str(issue.lot_account_id),
        fund_id=fund.transaction_id,
        issue_id=issue.transaction_id,
        spend_id=spend.transaction_id,
        refund_id=refund.transaction_id,
        hours_id=hours.transaction_id,
        spent_at=spent_at,
    )


def seal_everything(web: StaffWeb) -> None:
    """Seal every committed transaction under a signed checkpoint (polling on PostgreSQL)."""
    context = web.context
    deadline = time.monotonic() + SEAL_PATIENCE_SECONDS
    while True:
        context.write(lambda uow: seal(uow, context.ledger_key, web.clock.now()))
        sealed, total = context.read(lambda uow: (uow.audit.sealed_count(), uow.books.transaction_count()))
        if sealed == total:
            return
        assert time.monotonic() < deadline, f"only {sealed} of {total} transactions sealed"
        time.sleep(0.05)


def links(page: str) -> list[str]:
    """Every /admin link on a page, unescaped."""
    return [html.unescape(href) for href in _LINK.findall(page)]


def date_boxes(
    name: str, day: int | str = "", month: int | str = "", year: int | str = ""
) -> dict[str, list[str]]:
    """A GOV.UK date (or time) input's three boxes, one name with three values."""
    return {name: [str(day), str(month), str(year)]}
