"""Bulk issuance to the members a CSV file lists (by card number or resident id), not the whole scheme.

The list is resolved and kept when the dry run is shown, under the id the job will have (derived from the
member of staff and the form's request key), so the job pays exactly the members that dry run counted. A
line naming nobody, or someone who is not a member, is refused with the reason; the job then runs as any
bulk issuance does (ledger.usecases.bulk_allowance), chunk by chunk, paying nobody twice.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from typing import Any

from ledger.actors import Actor
from ledger.cards.token import normalize_card_number
from ledger.clock import rfc3339
from ledger.errors import NotEligible, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import local_date
from ledger.units import format_amount
from ledger.usecases.bulk_allowance import JOB_KIND, job_id_for
from ledger.usecases.issuances import IssueRequest, plan_issue, request_data
from ledger.usecases.jobs import JobRef
from ledger.usecases.memberships import check_eligibility
from ledger.usecases.requests import once, scheme_and_rules
from ledger.usecases.staff_log import record_action

MAX_LISTED = 100_000
MAX_REFERENCE_LENGTH = 36  # a resident id; a card number is shorter
HEADERS = {"card_number", "card number", "card", "resident_id", "resident id", "resident", "member"}
_UUID_LENGTH = 36
_PAGE = 1_000


@dataclasses.dataclass(frozen=True)
class ListedDryRun:
    """What paying the listed members would do now, before anything is paid."""

    scheme: str
    unit: str
    amount_minor: int
    period: str | None
    lines: int
    not_found: int
    not_members: int
    not_eligible: int
    already_paid: int
    to_pay: int
    total_minor: int
    budget_minor: int


def listed_references(text: str) -> list[str]:
    """The first column of each row of a CSV file: blank rows, a header row and repeats left out."""
    references: dict[str, None] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        first = row[0].strip() if row else ""
        if not first or (number == 1 and first.lower() in HEADERS):
            continue
        if len(first) > MAX_REFERENCE_LENGTH or not first.isprintable():
            raise ValidationFailed(f"row {number} is not a card number or a resident id")
        references[first] = None
        if len(references) > MAX_LISTED:
            raise ValidationFailed(f"the file lists more than {MAX_LISTED:,} members")
    if not references:
        raise ValidationFailed("the file lists no members")
    return list(references)


def _resolved(uow: UnitOfWork, reference: str, scheme_id: str) -> tuple[str | None, str | None, str | None]:
    """(resident id, problem, reason) for one line of the file."""
    resident_id: str | None = None
    try:
        card = uow.people.card(normalize_card_number(reference))
        resident_id = None if card is None else str(card["resident_id"])
    except ValueError:
        looks_like_an_id = len(reference) == _UUID_LENGTH and reference.count("-") == 4
        if looks_like_an_id and uow.people.resident(reference) is not None:
            resident_id = reference
    if resident_id is None:
        return None, "not-found", f"{reference} is not a card number or resident id we know"
    if uow.people.membership(resident_id, scheme_id) is None:
        return resident_id, "not-a-member", "not a member of the scheme"
    return resident_id, None, None


def prepare_listed_bulk(
    uow: UnitOfWork,
    *,
    request: IssueRequest,
    references: Sequence[str],
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: Actor,
    key: str,
) -> ListedDryRun:
    """Resolve and keep the list for the job this key will start, and count what paying it would do."""
    scheme, rules = scheme_and_rules(uow, request.scheme)
    plan = plan_issue(rules, request, now, zone)
    period = rules.issuing.allowance_period(now, zone)
    job_id = job_id_for(actor.name, key)
    if uow.jobs.job(job_id) is not None:
        raise ValidationFailed("this bulk issuance has already started: start a new one from the bulk page")
    rows = [(reference, *_resolved(uow, reference, scheme["id"])) for reference in references]
    uow.oversight.replace_listed(job_id, rows)
    on, counts = local_date(now, zone), {"not-found": 0, "not-a-member": 0, "not-eligible": 0, "paid": 0}
    for page in _listed_pages(uow, job_id, scheme["id"]):
        eligible = []
        for member in page:
            try:
                check_eligibility(rules.eligibility, member, referral=member["referral"], on=on)
                eligible.append(member["id"])
            except NotEligible:
                counts["not-eligible"] += 1
        if period is not None and eligible:
            counts["paid"] += len(uow.bulk.allowance_holders(scheme["id"], period, eligible))
        counts["to-pay"] = counts.get("to-pay", 0) + len(eligible)
    for _, _, problem, _ in rows:
        if problem is not None:
            counts[problem] += 1
    to_pay = counts.get("to-pay", 0) - counts["paid"]
    return ListedDryRun(
        scheme=scheme["slug"],
        unit=scheme["unit"],
        amount_minor=plan.amount_minor,
        period=period,
        lines=len(rows),
        not_found=counts["not-found"],
        not_members=counts["not-a-member"],
        not_eligible=counts["not-eligible"],
        already_paid=counts["paid"],
        to_pay=to_pay,
        total_minor=to_pay * plan.amount_minor,
        budget_minor=int(uow.accounts.balance(scheme["budget_account_id"])),
    )


def _listed_pages(uow: UnitOfWork, job_id: str, scheme_id: str) -> Iterator[list[dict[str, Any]]]:
    after = ""
    while page := uow.oversight.listed_members_page(job_id, scheme_id, after=after, limit=_PAGE):
        yield page
        after = page[-1]["id"]


def start_listed_bulk(
    uow: UnitOfWork, *, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo, actor: Actor, key: str
) -> JobRef:
    """Queue the job for the list its dry run kept (a retry with the same key finds it, and resumes it if it
    failed); the lines naming no member are its first refusals; recorded in the staff log."""

    def operation() -> dict[str, Any]:
        scheme, rules = scheme_and_rules(uow, request.scheme)
        plan = plan_issue(rules, request, now, zone)
        period = rules.issuing.allowance_period(now, zone)
        job_id = job_id_for(actor.name, key)
        lines, unpayable = uow.oversight.listed_summary(job_id)
        if lines == 0:
            raise ValidationFailed("the list of members has gone: upload the CSV file again")
        state = {
            "scheme": scheme["slug"],
            "amount_minor": plan.amount_minor,
            "category": plan.category,
            "expires_at": plan.expires_at and rfc3339(plan.expires_at),
            "period": period,
            "paid": 0,
            "already_paid": 0,
            "refused": len(unpayable),
            "error": None,
            "listed": True,
        }
        uow.jobs.create(id=job_id, kind=JOB_KIND, total=lines, actor=actor.name, state=state, now=now)
        uow.jobs.add_refusals(job_id, unpayable)
        uow.oversight.count_done(job_id, len(unpayable))
        detail = {
            "job_id": job_id,
            "members": lines,
            "amount": format_amount(plan.amount_minor, scheme["unit"]),
            "period": period,
            "listed": True,
        }
        record_action(uow, actor=actor, action="bulk.start", target=scheme["slug"], detail=detail, now=now)
        return {"job_id": job_id, "total": lines, "period": period, "already_paid": 0}

    fingerprint = {"op": "bulk-issuance-listed", **request_data(request)}
    body = once(uow, actor=actor.name, key=key, request=fingerprint, now=now, operation=operation)
    uow.jobs.requeue(body["job_id"])  # a failed job (say the budget ran out) resumes where it stopped
    job = uow.jobs.job(body["job_id"])
    return JobRef(
        job_id=body["job_id"],
        kind=JOB_KIND,
        status=job["status"],
        total=body["total"],
        period=body["period"],
        already_paid=body["already_paid"],
    )
