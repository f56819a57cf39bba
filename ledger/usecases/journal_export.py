"""Journal export for auditors: JSON, CSV (one row per posting) and an hledger journal, streamed.

The period is half-open on the left: transactions recorded in (after, up_to]. That matches the trial
balance (`at` includes postings recorded at that instant), so for any two instants
`trial_balance(up_to) == trial_balance(after) + journal(after, up_to]`, and consecutive periods tile
with no gap and no overlap.

hledger representation (every amount exact, so `hledger balance` totals exactly zero):
- GBP: decimal pounds with the ISO code, `12.50 GBP` (pence / 100, always two decimals).
- HOUR: minutes, the unit it is stored in, as commodity `MIN`: `90 MIN` (never fractional hours).
- POINT: whole points, `5 POINT`.
Each transaction is dated by its recorded_at (UTC) date; the description is `<kind> <id>`; the exact
timestamps, outlet and scheme are tags on a comment line. Account names keep the ledger's ':'
hierarchy; a name with a character outside [A-Za-z0-9:_.-] has it replaced by '_' and gets its
account id appended so that distinct accounts never merge.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.records import TransactionRecord
from ledger.units import Unit

FORMATS = ("json", "csv", "hledger")
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "hledger": "text/plain; charset=utf-8",
}
FILE_EXTENSIONS = {"json": "json", "csv": "csv", "hledger": "journal"}
CSV_COLUMNS = ("transaction_id", "recorded_at", "kind", "account_id", "account_name", "unit", "amount_minor")
HLEDGER_COMMODITIES = {Unit.GBP: "GBP", Unit.HOUR: "MIN", Unit.POINT: "POINT"}
CHUNK_CHARACTERS = 64 * 1024

_UNSAFE_ACCOUNT_CHARACTERS = re.compile(r"[^A-Za-z0-9:_.\-]")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Rows = Iterable[tuple[TransactionRecord, dict[str, str]]]


@dataclasses.dataclass(frozen=True)
class ExportPeriod:
    """Transactions recorded after `after` (exclusive) up to `up_to` (inclusive); None is unbounded."""

    after: dt.datetime | None
    up_to: dt.datetime | None

    def __post_init__(self) -> None:
        if self.after is not None and self.up_to is not None and self.after > self.up_to:
            raise ValidationFailed("from must not be later than to")


def transaction_dict(record: TransactionRecord, names: dict[str, str]) -> dict[str, Any]:
    """A transaction as auditors see it: every field the content hash covers, plus account names."""
    return {
        "id": record.id,
        "kind": record.kind,
        "occurred_at": rfc3339(record.occurred_at),
        "recorded_at": rfc3339(record.recorded_at),
        "actor": record.actor,
        "idempotency_key": record.idempotency_key,
        "outlet_id": record.outlet_id,
        "scheme_id": record.scheme_id,
        "rule_version": record.rule_version,
        "reverses_id": record.reverses_id,
        "metadata": dict(record.metadata),
        "content_hash": record.content_hash,
        "postings": [
            {
                "account_id": p.account_id,
                "account_name": names[p.account_id],
                "unit": p.unit.value,
                "amount_minor": p.amount_minor,
            }
            for p in record.postings
        ],
    }


def export(uow: UnitOfWork, period: ExportPeriod, fmt: str) -> Iterator[str]:
    """The journal of `period` in `fmt`, as text chunks of bounded size; the caller keeps `uow` open."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"format is one of {', '.join(FORMATS)}")
    rows = uow.export.transactions(after=period.after, up_to=period.up_to)
    if fmt == "json":
        parts = render_json(rows, period)
    elif fmt == "csv":
        parts = render_csv(rows)
    else:
        used = uow.export.accounts_used(after=period.after, up_to=period.up_to)
        parts = render_hledger(rows, used, period)
    return chunked(parts)


def chunked(parts: Iterable[str], size: int = CHUNK_CHARACTERS) -> Iterator[str]:
    """Join small pieces into chunks of about `size` characters (fewer, larger writes to the socket)."""
    buffer: list[str] = []
    length = 0
    for part in parts:
        buffer.append(part)
        length += len(part)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def _bound(value: dt.datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def render_json(rows: Rows, period: ExportPeriod) -> Iterator[str]:
    """{"from": ..., "to": ..., "data": [transaction, ...]}, one transaction at a time."""
    head = {"from": _bound(period.after), "to": _bound(period.up_to)}
    yield json.dumps(head, separators=(",", ":"))[:-1] + ',"data":['
    separator = ""
    for record, names in rows:
        yield separator + json.dumps(transaction_dict(record, names), separators=(",", ":"))
        separator = ","
    yield "]}\n"


def _cell(text: str) -> str:
    """Neutralise spreadsheet formula injection in a text cell (OWASP): prefix a quote."""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def render_csv(rows: Rows) -> Iterator[str]:
    """A header, then one row per posting; amounts are integers in minor units."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record, names in rows:
        recorded_at = rfc3339(record.recorded_at)
        for p in record.postings:
            writer.writerow(
                (
                    record.id,
                    recorded_at,
                    _cell(record.kind),
                    p.account_id,
                    _cell(names[p.account_id]),
                    p.unit.value,
                    p.amount_minor,
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def hledger_amount(unit: Unit, amount_minor: int) -> str:
    """An exact hledger amount: `-12.50 GBP`, `90 MIN`, `5 POINT`."""
    sign = "-" if amount_minor < 0 else ""
    magnitude = abs(amount_minor)
    if unit is Unit.GBP:
        return f"{sign}{magnitude // 100}.{magnitude % 100:02d} GBP"
    return f"{sign}{magnitude} {HLEDGER_COMMODITIES[unit]}"


def hledger_account(account_id: str, name: str) -> str:
    """A safe hledger account name: ':' hierarchy kept, nothing that could end or alter a posting."""
    safe = ":".join(part or "_" for part in _UNSAFE_ACCOUNT_CHARACTERS.sub("_", name).split(":"))
    if safe == name:
        return name
    return f"{safe}-{_UNSAFE_ACCOUNT_CHARACTERS.sub('_', account_id)}"


def _hledger_tag(value: str) -> str:
    # Tag values end at a comma or the end of the line.
    return re.sub(r"[,\r\n]", "_", value)


def render_hledger(
    rows: Rows,
    accounts_used: Iterable[tuple[str, str, str]],
    period: ExportPeriod,
) -> Iterator[str]:
    """A journal that `hledger check --strict` accepts: commodities and accounts declared first."""
    yield "; Clubcard journal export\n"
    start, end = _bound(period.after) or "the beginning", _bound(period.up_to) or "the end"
    yield f"; transactions recorded after {start}, up to and including {end}\n"
    yield "; GBP in pounds; HOUR as minutes (MIN); POINT in points. Every amount is exact.\n\n"
    yield "decimal-mark .\n"
    yield "commodity 1000.00 GBP\ncommodity 1. MIN\ncommodity 1. POINT\n\n"
    for account_id, name, unit in accounts_used:
        yield f"account {hledger_account(account_id, name)}  ; unit:{unit}\n"
    for record, names in rows:
        tags = [f"transaction_id:{record.id}", f"recorded_at:{rfc3339(record.recorded_at)}"]
        tags.append(f"occurred_at:{rfc3339(record.occurred_at)}")
        for key in ("outlet_id", "scheme_id", "reverses_id"):
            value = getattr(record, key)
            if value is not None:
                tags.append(f"{key}:{_hledger_tag(str(value))}")
        lines = [f"\n{record.recorded_at.date().isoformat()} * {_hledger_tag(record.kind)} {record.id}"]
        lines.append("    ; " + ", ".join(tags))
        for p in record.postings:
            account = hledger_account(p.account_id, names[p.account_id])
            lines.append(f"    {account}    {hledger_amount(p.unit, p.amount_minor)}")
        yield "\n".join(lines) + "\n"
