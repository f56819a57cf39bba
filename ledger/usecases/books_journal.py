"""The auditor's journal, a page at a time: transactions filtered by time, kind, scheme and outlet; one
transaction with its postings, content hash and seal; an account's history with its running balance.

Every read is one bounded page (keyset cursors), never the whole journal, so it costs the same at a
thousand transactions or a million. Reads are run by the caller on one read-only snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from ledger.errors import NotFound, ValidationFailed
from ledger.journal import content_hash, header_of
from ledger.kinds import JOURNAL_KINDS
from ledger.ports import UnitOfWork
from ledger.records import AccountRecord, TransactionRecord
from ledger.usecases.residents import plausible_id

# What the journal may be filtered by (every kind); a kind outside it is refused rather than listing nothing.
MAX_PAGE_SIZE = 200


@dataclasses.dataclass(frozen=True)
class JournalFilter:
    """Which transactions to list: exact kind, scheme id and outlet id; recorded after `after` up to and
    including `up_to` (None: unbounded)."""

    kind: str | None = None
    scheme_id: str | None = None
    outlet_id: str | None = None
    after: dt.datetime | None = None
    up_to: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in JOURNAL_KINDS:
            raise ValidationFailed(f"kind is one of {', '.join(JOURNAL_KINDS)}")
        for name in ("scheme_id", "outlet_id"):
            value = getattr(self, name)
            if value is not None and not plausible_id(value):
                raise ValidationFailed(f"{name}: not an id")
        if self.after is not None and self.up_to is not None and self.after > self.up_to:
            raise ValidationFailed("from must not be later than to")

    def exact(self) -> dict[str, str]:
        """The exact-match filters that were given."""
        given = {"kind": self.kind, "scheme_id": self.scheme_id, "outlet_id": self.outlet_id}
        return {name: value for name, value in given.items() if value is not None}


@dataclasses.dataclass(frozen=True)
class JournalLine:
    """One transaction as the journal page lists it: what moved, per unit, and where."""

    transaction: TransactionRecord
    scheme_name: str | None
    outlet_name: str | None
    moved: tuple[tuple[str, int], ...]  # (unit, sum of the credits) per unit


@dataclasses.dataclass(frozen=True)
class JournalPage:
    """A page of the journal, newest first, and the choices its filters offer."""

    lines: tuple[JournalLine, ...]
    has_more: bool
    schemes: tuple[tuple[str, str], ...]  # (id, name)
    outlets: tuple[tuple[str, str], ...]  # (id, name)


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit is 1 to {MAX_PAGE_SIZE}")
    return limit


def _cursor(uow: UnitOfWork, starting_after: str) -> tuple[dt.datetime, str] | None:
    if not starting_after:
        return None
    position = uow.books.transaction_position(starting_after) if plausible_id(starting_after) else None
    if position is None:
        raise ValidationFailed("starting_after is not the id of a transaction")
    found: tuple[dt.datetime, str] = position
    return found


def moved(record: TransactionRecord) -> tuple[tuple[str, int], ...]:
    """How much a transaction moved in each unit: the sum of its credits (its debits are the same)."""
    credits: dict[str, int] = defaultdict(int)
    for posting in record.postings:
        if posting.amount_minor > 0:
            credits[posting.unit.value] += posting.amount_minor
    return tuple(sorted(credits.items()))


def journal_page(
    uow: UnitOfWork, *, where: JournalFilter, limit: int, starting_after: str = ""
) -> JournalPage:
    """Up to `limit` transactions newest first after the `starting_after` transaction, with postings."""
    records = uow.books.journal_page(
        exact=where.exact(),
        after=where.after,
        up_to=where.up_to,
        before=_cursor(uow, starting_after),
        limit=_page_size(limit) + 1,
    )
    schemes = {scheme_id: name for scheme_id, _, name in uow.books.scheme_choices()}
    outlets = dict(uow.books.outlet_choices())
    shown = records[:limit]
    missing = {r.outlet_id for r in shown if r.outlet_id is not None and r.outlet_id not in outlets}
    names = outlets | uow.books.outlet_names(missing)
    lines = tuple(
        JournalLine(
            record,
            schemes.get(record.scheme_id) if record.scheme_id else None,
            names.get(record.outlet_id) if record.outlet_id else None,
            moved(record),
        )
        for record in shown
    )
    return JournalPage(lines, len(records) > limit, tuple(schemes.items()), tuple(outlets.items()))


@dataclasses.dataclass(frozen=True)
class PostingLine:
    """One posting with its account's name."""

    account_id: str
    account_name: str
    unit: str
    amount_minor: int


@dataclasses.dataclass(frozen=True)
class TransactionDetail:
    """A transaction as an auditor checks it: header, postings, content hash recomputed, and its seal."""

    transaction: TransactionRecord
    postings: tuple[PostingLine, ...]
    scheme_name: str | None
    outlet_name: str | None
    recomputed_hash: str
    reversed_by: str | None
    seal_position: int | None
    sealed_under_tree_size: int | None  # the first signed checkpoint covering it
    sealed_under_signed_at: dt.datetime | None

    @property
    def hash_matches(self) -> bool:
        """True when the stored content hash is the hash of the header and postings as stored now."""
        return self.recomputed_hash == self.transaction.content_hash


def transaction_detail(uow: UnitOfWork, transaction_id: str) -> TransactionDetail:
    """One transaction with everything its content hash covers; NotFound if there is none."""
    record: TransactionRecord | None = (
        uow.journal.get(transaction_id) if plausible_id(transaction_id) else None
    )
    if record is None:
        raise NotFound(f"no transaction {transaction_id}")
    accounts = uow.accounts.get_many(p.account_id for p in record.postings)
    lines = tuple(
        PostingLine(p.account_id, accounts[p.account_id].name, p.unit.value, p.amount_minor)
        for p in record.postings
    )
    scheme = uow.schemes.get(id=record.scheme_id) if record.scheme_id else None
    outlets = uow.books.outlet_names([record.outlet_id] if record.outlet_id else [])
    position = uow.audit.seal_position(record.id)
    checkpoint = uow.audit.checkpoint_covering(position) if position is not None else None
    return TransactionDetail(
        transaction=record,
        postings=lines,
        scheme_name=scheme["name"] if scheme else None,
        outlet_name=outlets.get(record.outlet_id) if record.outlet_id else None,
        recomputed_hash=content_hash(header_of(record), record.postings),
        reversed_by=uow.journal.reversal_of(record.id),
        seal_position=position,
        sealed_under_tree_size=checkpoint.tree_size if checkpoint else None,
        sealed_under_signed_at=checkpoint.signed_at if checkpoint else None,
    )


@dataclasses.dataclass(frozen=True)
class HistoryLine:
    """One transaction in an account's history: what it did to the account, and the balance after."""

    transaction: TransactionRecord
    amount_minor: int
    balance_after_minor: int


@dataclasses.dataclass(frozen=True)
class AccountHistory:
    """An account, its balance now, and a page of its history newest first."""

    account: AccountRecord
    balance_minor: int
    lines: tuple[HistoryLine, ...]
    has_more: bool


def account_history(
    uow: UnitOfWork, account_id: str, *, limit: int, starting_after: str = ""
) -> AccountHistory:
    """Up to `limit` transactions on the account, newest first, each with the running balance after it
    (summed from the postings, not taken from the stored balance); NotFound if there is no account."""
    if not plausible_id(account_id):
        raise NotFound(f"no account {account_id}")
    account: AccountRecord = uow.accounts.get(account_id)
    entries = uow.journal.entries(
        account_id, limit=_page_size(limit) + 1, before=_cursor(uow, starting_after)
    )
    shown = entries[:limit]
    lines: list[HistoryLine] = []
    if shown:
        newest = shown[0][0]
        balance = uow.books.balance_through(account_id, (newest.recorded_at, newest.id))
        for record, net in shown:
            lines.append(HistoryLine(record, net, balance))
            balance -= net
    return AccountHistory(account, uow.accounts.balance(account_id), tuple(lines), len(entries) > limit)


def journal_choices(uow: UnitOfWork) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The schemes and outlets the journal can be filtered by: ((id, name), ...) each, by name."""
    schemes = tuple((scheme_id, name) for scheme_id, _, name in uow.books.scheme_choices())
    return schemes, tuple(uow.books.outlet_choices())
