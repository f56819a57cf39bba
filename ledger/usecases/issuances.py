"""Issuing value to a scheme member: amount, category and expiry from the rules; eligibility re-checked."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ledger.clock import rfc3339
from ledger.errors import RuleViolation, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import Rules, local_date
from ledger.usecases import flows
from ledger.usecases.memberships import check_eligibility
from ledger.usecases.requests import once, receipt_data, require_member, scheme_and_rules


@dataclasses.dataclass(frozen=True)
class IssueRequest:
    """What a caseworker or scheme manager asks to issue (anything left out comes from the rules)."""

    scheme: str
    amount_minor: int | None = None
    purpose: str | None = None
    category: str | None = None
    expires_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class IssuePlan:
    """What will be issued: the amount, the lot's category (a purpose) and its expiry."""

    amount_minor: int
    category: str | None
    expires_at: dt.datetime | None


def plan_issue(rules: Rules, request: IssueRequest, now: dt.datetime, zone: dt.tzinfo) -> IssuePlan:
    """Fill in amount, category and expiry from the rules; refuse what the rules do not allow."""
    issuing = rules.issuing
    if issuing.mode == "earned":
        raise RuleViolation("this scheme's value is only earned (POST /earnings), never issued")
    category = request.category
    amount = request.amount_minor
    if issuing.mode == "series":
        purpose = request.purpose or request.category
        if purpose is None:
            raise ValidationFailed("a series voucher needs a purpose")
        if request.category is not None and request.purpose not in (None, request.category):
            raise ValidationFailed("for a series voucher the category is its purpose: give one of them")
        if issuing.purposes and purpose not in issuing.purposes:
            raise ValidationFailed(f"purpose is one of {', '.join(sorted(issuing.purposes))}")
        category = purpose
        amount = amount if amount is not None else issuing.purposes.get(purpose)
    elif request.purpose is not None:
        raise ValidationFailed("purposes belong to series schemes; use category")
    amount = amount if amount is not None else issuing.amount_minor
    if amount is None:
        raise ValidationFailed("amount_minor is required: the scheme's rules set no default amount")
    expires_at = request.expires_at if request.expires_at is not None else rules.expiry.expires_at(now, zone)
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed("expires_at is in the past")
    return IssuePlan(amount, category, expires_at)


def issue_to_member(
    uow: UnitOfWork,
    *,
    request: IssueRequest,
    resident_id: str,
    now: dt.datetime,
    zone: dt.tzinfo,
    actor: str,
    key: str,
) -> dict[str, Any]:
    """Credit an enrolled, still eligible member from the scheme budget."""
    fingerprint = {"op": "issuance", "resident_id": resident_id, **request_data(request)}

    def operation() -> dict[str, Any]:
        scheme, rules = scheme_and_rules(uow, request.scheme)
        plan = plan_issue(rules, request, now, zone)
        membership = require_member(uow, resident_id, scheme)
        resident = uow.people.resident(resident_id)
        on = local_date(now, zone)  # ages turn over at the council's midnight
        check_eligibility(rules.eligibility, resident, referral=membership.get("referral"), on=on)
        uow.activity.lock_wallet(resident_id, scheme["id"])  # lots opened once, even concurrently
        receipt = flows.issue(
            uow,
            scheme=scheme,
            owner_id=resident_id,
            amount_minor=plan.amount_minor,
            now=now,
            actor=actor,
            key=key,
            category=plan.category,
            expires_at=plan.expires_at,
        )
        return {
            **receipt_data(receipt),
            "scheme": scheme["slug"],
            "resident_id": resident_id,
            "category": plan.category,
            "expires_at": plan.expires_at and rfc3339(plan.expires_at),
            "rule_version": scheme["version"],
        }

    return once(uow, actor=actor, key=key, request=fingerprint, now=now, operation=operation)


def request_data(request: IssueRequest) -> dict[str, Any]:
    """The request as JSON-ready data (for fingerprints)."""
    data = dataclasses.asdict(request)
    data["expires_at"] = request.expires_at and rfc3339(request.expires_at)
    return data
