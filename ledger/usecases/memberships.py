"""Scheme membership: enrolment checked against the scheme's current eligibility rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ledger.actors import Actor, as_actor
from ledger.errors import Conflict, NotEligible, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.rules import Eligibility, age_on, parse_rules
from ledger.usecases.replays import once_per_key
from ledger.usecases.residents import plausible_id
from ledger.usecases.schemes import SLUG_PATTERN, get_scheme
from ledger.usecases.staff_log import record_action


def enrol_member(
    uow: UnitOfWork,
    *,
    slug: str,
    resident_id: str,
    referral: str | None,
    collective_id: str | None,
    as_of: dt.date | None,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Enrol a resident in a scheme if its current rules allow them (NotEligible says why not). With an
    idempotency key, once: a retry gets the first answer, not 409 already a member."""
    referral = (referral or "").strip() or None
    on = as_of or now.date()

    def operation() -> dict[str, Any]:
        scheme = _scheme(uow, slug)
        resident = uow.people.resident(resident_id)
        if resident is None:
            raise ValidationFailed(f"resident_id: no resident {resident_id}")
        if uow.people.membership(resident_id, scheme["id"]) is not None:
            raise Conflict(f"this resident is already a member of {slug}")
        if collective_id is not None:
            _check_collective(uow, resident, collective_id)
        check_eligibility(parse_rules(scheme["rules"]).eligibility, resident, referral=referral, on=on)
        uow.people.add_membership(
            resident_id=resident_id,
            scheme_id=scheme["id"],
            collective_id=collective_id,
            referral=referral,
            actor=as_actor(actor).name,
            now=now,
        )
        record_action(
            uow,
            actor=actor,
            action="membership.enrol",
            target=resident_id,
            detail={"scheme": slug, "rule_version": scheme["version"], "as_of": on.isoformat()},
            now=now,
        )
        return {"scheme_id": scheme["id"], "rule_version": scheme["version"], "eligible_on": on}

    # The referral is free text about a person: the key's record keeps only a hash of the request and
    # the membership's ids, and a replay reads the membership back (its referral gone once erased).
    request = {
        "op": "membership.enrol",
        "slug": slug,
        "resident_id": resident_id,
        "referral": referral,
        "collective_id": collective_id,
        "as_of": as_of,
    }
    made = once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
    scheme = uow.schemes.get(id=made["scheme_id"])
    membership = uow.people.membership(resident_id, made["scheme_id"])
    return {
        **membership_view(membership, scheme),
        "rule_version": made["rule_version"],
        "eligible_on": made["eligible_on"],
    }


def _scheme(uow: UnitOfWork, slug: str) -> dict[str, Any]:
    if not SLUG_PATTERN.fullmatch(slug):
        raise NotFound("no such scheme")
    return get_scheme(uow, slug)


def _check_collective(uow: UnitOfWork, resident: Mapping[str, Any], collective_id: str) -> None:
    if resident["kind"] == "collective":
        raise ValidationFailed("collective_id: a collective cannot belong to another collective")
    collective = uow.people.resident(collective_id)
    if collective is None or collective["kind"] != "collective":
        raise ValidationFailed(f"collective_id: {collective_id} is not a collective (a street)")


def check_eligibility(
    rules: Eligibility, resident: Mapping[str, Any], *, referral: str | None, on: dt.date
) -> None:
    """Raise NotEligible with the first reason this resident may not join on this date."""
    details = resident["details"]
    if resident["erased_at"] is not None or details is None:
        raise NotEligible("this resident's personal data was erased, so eligibility cannot be shown")
    if rules.resident_kinds and resident["kind"] not in rules.resident_kinds:
        kinds = " or ".join(rules.resident_kinds)
        raise NotEligible(f"this scheme is for a {kinds}; this resident is a {resident['kind']}")
    if rules.min_age is not None or rules.max_age is not None:
        _check_age(rules, details.get("date_of_birth"), on)
    if rules.wards:
        ward = (details.get("ward") or "").strip().casefold()
        if ward not in {w.strip().casefold() for w in rules.wards}:
            raise NotEligible("the resident's ward is not one of the scheme's wards")
    if rules.postcode_prefixes:
        postcode = _compact(details.get("postcode") or "")
        if not postcode or not any(postcode.startswith(_compact(p)) for p in rules.postcode_prefixes):
            raise NotEligible("the resident's postcode is outside the scheme's area")
    if rules.referral_required and not referral:
        raise NotEligible("this scheme needs a referral")


def _check_age(rules: Eligibility, date_of_birth: str | None, on: dt.date) -> None:
    if not date_of_birth:
        raise NotEligible("this scheme has an age band and the resident has no date of birth on record")
    age = age_on(dt.date.fromisoformat(date_of_birth), on)
    low = 0 if rules.min_age is None else rules.min_age
    band = f"{low} to {rules.max_age}" if rules.max_age is not None else f"{low} and over"
    if (rules.min_age is not None and age < rules.min_age) or (
        rules.max_age is not None and age > rules.max_age
    ):
        raise NotEligible(f"aged {age} on {on.isoformat()}; the scheme is for ages {band}")


def _compact(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def list_members(uow: UnitOfWork, *, slug: str, limit: int, after: str) -> list[dict[str, Any]]:
    """A page of a scheme's memberships by resident id."""
    if after and not plausible_id(after, 200):
        raise ValidationFailed("starting_after: not a cursor")
    scheme = _scheme(uow, slug)
    return [
        membership_view(row, scheme)
        for row in uow.people.members_page(scheme["id"], limit=limit, after=after)
    ]


def membership_view(row: Mapping[str, Any], scheme: Mapping[str, Any]) -> dict[str, Any]:
    """A membership as staff see it."""
    return {
        "resident_id": row["resident_id"],
        "scheme": scheme["slug"],
        "scheme_id": scheme["id"],
        "collective_id": row["collective_id"],
        "referral": row["referral"],
        "has_referral": row["referral"] is not None,
        "enrolled_at": row["enrolled_at"],
        "enrolled_by": row["enrolled_by"],
    }
