"""Every outcome of a scan or a spend in words a resident understands, sorted as a trader app sorts them."""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Mapping
from typing import Any

from ledger.clock import DEFAULT_TIME_ZONE, parse_rfc3339
from ledger.units import format_amount

PROBLEM_BASE = "https://clubcard.example/problems/"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the counter screen says: a short heading, one plain sentence, and whether it went through."""

    kind: str
    heading: str
    message: str
    accepted: bool = False


ACCEPTED = Outcome("accepted", "Accepted", "The spend went through. Hand over the receipt.", accepted=True)
ACCEPTED_OFFLINE = Outcome(
    "accepted-offline",
    "Accepted while offline",
    "The spend is saved on this kiosk and will be sent to the council when the connection is back.",
    accepted=True,
)
ALREADY_USED = Outcome(
    "already-used",
    "Already used here",
    "This spend was already taken. Nothing more has been charged. This is the original receipt.",
    accepted=True,
)
BLOCKED = Outcome(
    "blocked",
    "This card is blocked",
    "Ask the council for a replacement; the balance is safe.",
)
NOT_ACCEPTED_HERE = Outcome(
    "not-accepted-here",
    "Not accepted here",
    "This card cannot be used for this here. It may be accepted at another place.",
)
NOT_ENOUGH = Outcome("not-enough", "Not enough on the card", "There is not enough left on the card for this.")
EXPIRED = Outcome("expired", "Expired", "This has expired, so it cannot be used any more.")
DAILY_LIMIT = Outcome(
    "daily-limit",
    "Daily limit reached",
    "This is more than the card may spend today or in one go. Try a smaller amount or come back tomorrow.",
)
NOT_A_CLUBCARD = Outcome(
    "not-a-clubcard",
    "Not a Clubcard",
    "This is not a Clubcard we recognise. Try scanning again or type the number printed on the card.",
)
NUMBER_TYPO = Outcome(
    "not-a-clubcard",
    "Not a Clubcard",
    "That card number is not right. Check it against the card and type it again.",
)
WHOLE_VOUCHERS = Outcome(
    "not-enough",
    "Whole vouchers only",
    "This scheme only allows whole vouchers to be spent. Try the amount of a whole voucher.",
)
OVER_OFFLINE_LIMIT = Outcome(
    "daily-limit",
    "Over the offline limit",
    "The kiosk is offline, so it can only accept a small amount per card today. Try a smaller amount "
    "or wait until the connection is back.",
)
TYPED_NUMBER_OFFLINE = Outcome(
    "offline",
    "Scan the card instead",
    "A typed card number can only be checked online. Scan the QR code on the card instead.",
)
NOT_REFUNDABLE = Outcome(
    "expired",
    "Cannot be refunded",
    "This spend can no longer be refunded here: the refund window has closed or it was already refunded.",
)
OFFLINE_NEEDS_CONNECTION = Outcome(
    "offline",
    "Needs the connection",
    "This can only be done when the kiosk is back online.",
)
TRY_AGAIN = Outcome(
    "error",
    "Something went wrong",
    "The council's system could not do this just now. Nothing was charged. Please try again.",
)

_BY_PROBLEM = {
    "insufficient-funds": NOT_ENOUGH,
    "budget-exhausted": NOT_ENOUGH,
    "not-allowed-here": NOT_ACCEPTED_HERE,
    "card-blocked": BLOCKED,
    "expired": EXPIRED,
    "limit-exceeded": DAILY_LIMIT,
    "invalid-token": NOT_A_CLUBCARD,
    "not-found": NOT_A_CLUBCARD,
    "validation": NUMBER_TYPO,
    "rule-violation": WHOLE_VOUCHERS,
}


def problem_slug(problem_type: str) -> str:
    """The slug of a problem type URI (`…/problems/card-blocked` → `card-blocked`)."""
    return problem_type.removeprefix(PROBLEM_BASE)


def for_problem(
    problem_type: str, body: Mapping[str, Any] | None = None, zone: zoneinfo.ZoneInfo | None = None
) -> Outcome:
    """The outcome to show for an API problem (an unknown one says to try again; nothing was charged).

    Vouchers past their expiry say on which of the council's days (`zone`) they expired, from the body."""
    slug = problem_slug(problem_type)
    if slug == "vouchers-expired":
        return vouchers_expired(body or {}, zone)
    return _BY_PROBLEM.get(slug, TRY_AGAIN)


def vouchers_expired(body: Mapping[str, Any], zone: zoneinfo.ZoneInfo | None) -> Outcome:
    """Expired vouchers: when they expired, what that was worth, and where to get new ones."""
    expired_at, expired_minor, unit = body.get("expired_at"), body.get("expired_minor"), body.get("unit")
    when = ""
    if isinstance(expired_at, str):
        local = parse_rfc3339(expired_at).astimezone(zone or zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE))
        when = f" on {local.day} {local:%B %Y}"
    value = "they"
    if isinstance(expired_minor, int) and isinstance(unit, str):
        value = f"the {format_amount(expired_minor, unit)} on them"
    return Outcome(
        "expired",
        "Expired",
        f"These vouchers expired{when}, so {value} cannot be used any more. Nothing was charged. "
        "Ask the council about new vouchers.",
    )


NO_ANSWER = Outcome(
    "no-answer",
    "No answer from the council",
    "The kiosk could not tell whether this went through. Do not hand anything over yet. Press Try again: "
    "it will never charge twice.",
)
NOT_READY_OFFLINE = Outcome(
    "offline",
    "The kiosk is offline",
    "The kiosk has not been online yet, so it cannot check cards by itself. Try again when the connection "
    "is back.",
)
NOTHING_OFFLINE_HERE = Outcome(
    "offline",
    "Nothing can be taken offline here",
    "None of the schemes accepted here allows spending while the kiosk is offline. Try again when the "
    "connection is back.",
)
PAGE_NOT_HERE = Outcome(
    "error",
    "Start again",
    "That screen is not available. Nothing was charged. Scan the card again.",
)
