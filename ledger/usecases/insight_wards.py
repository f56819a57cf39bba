"""The council's ward list for the equity lens: a CSV of ward and deprivation decile (1 = most deprived),
uploaded by admins and scheme managers; each upload replaces the list and is recorded in the staff log."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

from ledger.actors import Actor
from ledger.errors import ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.staff_log import record_action

MAX_WARDS = 1000
MAX_WARD_LENGTH = 64
HEADINGS = ("ward", "deprivation_decile")


@dataclasses.dataclass(frozen=True)
class WardDecile:
    """A ward and its deprivation decile (1 is the most deprived tenth of areas, 10 the least)."""

    ward: str
    decile: int


@dataclasses.dataclass(frozen=True)
class WardList:
    """The uploaded wards, most deprived first, and when and by whom they were uploaded."""

    wards: tuple[WardDecile, ...]
    uploaded_at: dt.datetime | None
    uploaded_by: str | None


def parse_ward_csv(text: str) -> list[WardDecile]:
    """Read "ward,deprivation_decile" rows, refusing a wrong heading, decile or repeated ward by line."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != HEADINGS:
        raise ValidationFailed("the first line of the file must be the headings: ward,deprivation_decile")
    if len(rows) - 1 > MAX_WARDS:
        raise ValidationFailed(f"the file may list at most {MAX_WARDS:,} wards")
    wards: dict[str, WardDecile] = {}
    for line, row in enumerate(rows[1:], start=2):
        wards_row = _ward(row, line)
        if wards_row.ward.lower() in wards:
            raise ValidationFailed(f"line {line}: {wards_row.ward} is listed twice")
        wards[wards_row.ward.lower()] = wards_row
    if not wards:
        raise ValidationFailed("the file lists no wards")
    return list(wards.values())


def _ward(row: list[str], line: int) -> WardDecile:
    if len(row) != 2:
        raise ValidationFailed(f"line {line}: give a ward and its decile, separated by a comma")
    ward, decile = row[0].strip(), row[1].strip()
    if not ward or len(ward) > MAX_WARD_LENGTH:
        raise ValidationFailed(f"line {line}: a ward name must be 1 to {MAX_WARD_LENGTH} characters")
    if not decile.isdigit() or not 1 <= int(decile) <= 10:
        raise ValidationFailed(
            f"line {line}: the deprivation decile of {ward} must be a whole number from 1 to 10"
        )
    return WardDecile(ward, int(decile))


def upload_wards(uow: UnitOfWork, *, csv_text: str, actor: Actor, now: dt.datetime) -> WardList:
    """Replace the ward list with the uploaded CSV and record it in the staff log."""
    wards = parse_ward_csv(csv_text)
    with uow:
        uow.insight.replace_wards([(w.ward, w.decile) for w in wards], actor=actor.name, now=now)
        record_action(
            uow,
            actor=actor,
            action="insight.wards-uploaded",
            target="wards",
            detail={"wards": len(wards)},
            now=now,
        )
        result = ward_list(uow)
        uow.commit()
    return result


def ward_list(uow: UnitOfWork) -> WardList:
    """The uploaded wards, most deprived first."""
    rows = uow.insight.wards()
    wards = tuple(WardDecile(row["ward"], int(row["decile"])) for row in rows)
    if not rows:
        return WardList((), None, None)
    return WardList(wards, rows[0]["uploaded_at"], rows[0]["uploaded_by"])


@dataclasses.dataclass(frozen=True)
class InsightScheme:
    """A scheme the insight pages describe."""

    slug: str
    name: str
    unit: str


def insight_schemes(uow: UnitOfWork, *, limit: int = 500) -> tuple[InsightScheme, ...]:
    """Every scheme, by slug."""
    return tuple(InsightScheme(s["slug"], s["name"], s["unit"]) for s in uow.schemes.list(limit=limit))
