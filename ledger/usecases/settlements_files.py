"""What settlement hands out: the payment file (CSV in a BACS-style layout) for banks, and each outlet's
statement of a batch (CSV and PDF) listing every redemption and refund in its period."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ledger.errors import Conflict, NotFound
from ledger.ports import UnitOfWork
from ledger.units import Unit, format_amount
from ledger.usecases.settlements import (
    IN_CLEARING,
    LINE_PAID,
    PAYMENT_FILE_MODE,
    SETTLEMENT_KINDS,
    get_settlement,
)
from ledger.usecases.settlements_payees import payees_of

PAYMENT_FILE_HEADER = ("sort_code", "account_number", "account_name", "amount_pence", "reference")
STATEMENT_HEADER = ("recorded_at", "kind", "transaction_id", "scheme", "amount_pence")
ROWS_PER_PAGE = 48


def payment_reference(sequence: int) -> str:
    """What the outlet's bank statement shows (a BACS reference is at most 18 characters)."""
    return f"CLUBCARD SETTLE {sequence}"[:18]


def payment_file(uow: UnitOfWork, batch_id: str) -> str:
    """The approved payment-file batch as CSV: one row per line in clearing or paid."""
    batch = get_settlement(uow, batch_id)
    if batch.mode != PAYMENT_FILE_MODE or batch.approved_at is None:
        raise Conflict("a payment file exists only for an approved batch settled without Stripe")
    lines = [line for line in batch.lines if line.status in (IN_CLEARING, LINE_PAID)]
    payees = payees_of(uow, [line.outlet_id for line in lines])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYMENT_FILE_HEADER)
    for line in lines:
        payee = payees[line.outlet_id]
        assert payee.has_bank_details, "a line in a payment file was approved with bank details"
        reference = payment_reference(batch.sequence)
        writer.writerow(
            (payee.sort_code, payee.account_number, payee.account_name, line.amount_minor, reference)
        )
    return out.getvalue()


@dataclasses.dataclass(frozen=True)
class StatementEntry:
    """One redemption or refund on the outlet's payable."""

    recorded_at: dt.datetime
    kind: str
    transaction_id: str
    scheme: str
    amount_minor: int


@dataclasses.dataclass(frozen=True)
class Statement:
    """An outlet's statement of one batch: what was brought forward, each entry, and the line."""

    batch_id: str
    sequence: int
    outlet_id: str
    outlet_name: str
    period_start: dt.datetime | None
    period_end: dt.datetime
    brought_forward_minor: int
    entries: tuple[StatementEntry, ...]
    line_minor: int
    status: str


def statement(uow: UnitOfWork, batch_id: str, outlet_id: str) -> Statement:
    """The statement of one outlet's line (NotFound when the batch has no line for it)."""
    batch = get_settlement(uow, batch_id)
    line = next((line for line in batch.lines if line.outlet_id == outlet_id), None)
    if line is None:
        raise NotFound(f"batch {batch_id} has no line for outlet {outlet_id}")
    account = uow.accounts.by_name(f"outlet:{outlet_id}:payable:GBP")
    assert account is not None, "a line comes from a payable account"
    rows = uow.settlements.statement_entries(
        account.id, batch.period_start, batch.period_end, SETTLEMENT_KINDS
    )
    slugs = {scheme_id: slug for scheme_id, slug, _ in uow.books.scheme_choices()}
    entries = tuple(
        StatementEntry(
            row["recorded_at"], row["kind"], row["id"], slugs.get(row["scheme_id"], ""), row["amount_minor"]
        )
        for row in rows
    )
    forward = line.amount_minor - sum(entry.amount_minor for entry in entries)
    return Statement(
        batch.id,
        batch.sequence,
        outlet_id,
        line.outlet_name,
        batch.period_start,
        batch.period_end,
        forward,
        entries,
        line.amount_minor,
        line.status,
    )


def statement_csv(found: Statement) -> str:
    """The statement as CSV: brought forward, every entry, and the line's total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STATEMENT_HEADER)
    start = found.period_start.isoformat() if found.period_start else ""
    writer.writerow((start, "brought_forward", "", "", found.brought_forward_minor))
    for entry in found.entries:
        writer.writerow(
            (
                entry.recorded_at.isoformat(),
                entry.kind,
                entry.transaction_id,
                entry.scheme,
                entry.amount_minor,
            )
        )
    writer.writerow((found.period_end.isoformat(), "line_total", "", "", found.line_minor))
    return out.getvalue()


def statement_pdf(found: Statement) -> bytes:
    """The statement as an A4 PDF (the same figures as the CSV, amounts as people read them)."""
    out = io.BytesIO()
    pdf = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setTitle(f"Settlement {found.sequence}: {found.outlet_name}")
    pdf.setCreator("Clubcard")
    rows = [("Brought forward", "", format_amount(found.brought_forward_minor, Unit.GBP))]
    rows += [
        (
            entry.recorded_at.strftime("%d %b %Y %H:%M UTC"),
            f"{entry.kind} {entry.scheme}",
            _gbp(entry.amount_minor),
        )
        for entry in found.entries
    ]
    rows.append(("Total of this line", found.status.replace("_", " "), _gbp(found.line_minor)))
    for page_start in range(0, len(rows), ROWS_PER_PAGE):
        _page(pdf, found, rows[page_start : page_start + ROWS_PER_PAGE])
    pdf.save()
    return out.getvalue()


def _gbp(amount_minor: int) -> str:
    return format_amount(amount_minor, Unit.GBP)


def _page(pdf: Canvas, found: Statement, rows: list[tuple[str, str, str]]) -> None:
    width, height = A4
    top = height - 20 * mm
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(20 * mm, top, f"Settlement statement {found.sequence}: {found.outlet_name}"[:80])
    pdf.setFont("Helvetica", 9)
    start = found.period_start.strftime("%d %b %Y %H:%M UTC") if found.period_start else "the beginning"
    pdf.drawString(
        20 * mm, top - 6 * mm, f"From {start} to {found.period_end.strftime('%d %b %Y %H:%M UTC')}"
    )
    y = top - 16 * mm
    for when, what, amount in rows:
        pdf.drawString(20 * mm, y, when)
        pdf.drawString(75 * mm, y, what[:60])
        pdf.drawRightString(width - 20 * mm, y, amount)
        y -= 5 * mm
    pdf.showPage()
