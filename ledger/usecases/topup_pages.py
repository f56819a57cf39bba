"""What the top-up pages show: which of a resident's schemes take top-ups, and their limits."""

from __future__ import annotations

import dataclasses

from ledger.errors import NotFound
from ledger.ports import UnitOfWork
from ledger.rules import parse_rules
from ledger.units import Unit, format_amount


@dataclasses.dataclass(frozen=True)
class TopUpOption:
    """A scheme a resident belongs to that accepts top-ups, with its limits."""

    scheme: str
    name: str
    min_minor: int
    max_minor: int
    cap_per_month_minor: int | None

    @property
    def limits_in_words(self) -> str:
        """The limits as people read them: From £1.00 to £100.00 at a time (at most £200.00 a month)."""
        smallest, largest = format_amount(self.min_minor, Unit.GBP), format_amount(self.max_minor, Unit.GBP)
        words = f"From {smallest} to {largest} at a time"
        if self.cap_per_month_minor is not None:
            words += f" (at most {format_amount(self.cap_per_month_minor, Unit.GBP)} a month)"
        return words


def topup_options(uow: UnitOfWork, resident_id: str) -> list[TopUpOption]:
    """The resident's schemes that accept top-ups (pounds schemes whose rules say so), by name."""
    options = []
    for membership in uow.people.memberships_of(resident_id):
        scheme = uow.schemes.get(id=membership["scheme_id"])
        if scheme is None or scheme["unit"] != Unit.GBP.value:
            continue
        rule = parse_rules(scheme["rules"]).topups
        if rule.accepted:
            options.append(
                TopUpOption(
                    scheme["slug"], scheme["name"], rule.min_minor, rule.max_minor, rule.cap_per_month_minor
                )
            )
    return sorted(options, key=lambda option: option.name)


@dataclasses.dataclass(frozen=True)
class StaffTopUpPage:
    """What a member of staff needs to start a top-up for a resident: their active card and the options."""

    resident_id: str
    card_number: str | None
    options: list[TopUpOption]


def staff_topup_page(uow: UnitOfWork, resident_id: str) -> StaffTopUpPage:
    """The resident's newest active card (None when every card is blocked) and their top-up options."""
    if uow.people.resident(resident_id) is None:
        raise NotFound(f"no resident {resident_id}")
    active = [card for card in uow.people.cards_of(resident_id) if card["blocked_at"] is None]
    card_number = str(active[-1]["number"]) if active else None
    return StaffTopUpPage(resident_id, card_number, topup_options(uow, resident_id))
