"""Cards: issue (number + signed QR token), resolve a scanned token, block a lost card, replace it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ledger.cards.token import CardKeyring, CardSigningKey, InvalidCardToken, issue_token, new_card_number
from ledger.errors import CardBlocked, Conflict, InvalidToken, NotFound
from ledger.ports import UnitOfWork
from ledger.usecases.common import new_id
from ledger.usecases.residents import plausible_id


@dataclasses.dataclass(frozen=True)
class IssuedCard:
    """A new card: its number and the token its QR code carries."""

    number: str
    resident_id: str
    token: str
    key_id: str
    issued_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class PrintableCard:
    """What a printed card shows: its number, its QR token and the resident's scheme names."""

    number: str
    token: str
    scheme_names: tuple[str, ...]


def issue_card(uow: UnitOfWork, *, resident_id: str, key: CardSigningKey, now: dt.datetime) -> IssuedCard:
    """Give a resident a new card signed by the current card key."""
    resident = uow.people.resident(resident_id)
    if resident is None:
        raise NotFound(f"no resident {resident_id}")
    if resident["erased_at"] is not None:
        raise Conflict("this resident's personal data was erased: enrol them again for a new card")
    number = new_card_number()
    uow.people.add_card(number=number, resident_id=resident_id, key_id=key.key_id, now=now)
    token = issue_token(number, int(now.timestamp()), key)
    return IssuedCard(number, resident_id, token, key.key_id, now)


def issue_first_card(
    uow: UnitOfWork, *, resident_id: str, key: CardSigningKey, now: dt.datetime, actor: str
) -> IssuedCard:
    """Issue a card to a resident who has no active card (a lost card is replaced, not duplicated)."""
    if not plausible_id(resident_id) or not uow.people.lock_resident(resident_id):
        raise NotFound(f"no resident {resident_id}")
    active = [card["number"] for card in uow.people.cards_of(resident_id) if card["blocked_at"] is None]
    if active:
        raise Conflict(f"this resident already has card {active[0]}: block or replace it instead")
    issued = issue_card(uow, resident_id=resident_id, key=key, now=now)
    _log(uow, actor, "card.issue", issued.number, now, resident_id=resident_id)
    return issued


def _log(
    uow: UnitOfWork, actor: str | None, action: str, number: str, now: dt.datetime, **detail: str
) -> None:
    if actor is not None:
        uow.registry.log_action(
            id=new_id(), actor=actor, action=action, target=number, detail=detail, now=now
        )


def printable_card(uow: UnitOfWork, *, number: str, key: CardSigningKey) -> PrintableCard:
    """An active card's token and the names of its resident's schemes, for printing."""
    card, token = card_token(uow, number=number, key=key)
    if card["blocked_at"] is not None:
        raise CardBlocked("this card is blocked: print its replacement instead")
    names = []
    for membership in uow.people.memberships_of(card["resident_id"]):
        scheme = uow.schemes.get(id=membership["scheme_id"])
        if scheme is not None:
            names.append(scheme["name"])
    return PrintableCard(number, token, tuple(sorted(names)))


def card_token(uow: UnitOfWork, *, number: str, key: CardSigningKey) -> tuple[dict[str, Any], str]:
    """An existing card and its token (re-signed with the same number and issue time)."""
    card = uow.people.card(number)
    if card is None:
        raise NotFound(f"no card {number}")
    return card, issue_token(number, int(card["issued_at"].timestamp()), key)


def resolve_card(uow: UnitOfWork, *, keyring: CardKeyring, token: str) -> dict[str, Any]:
    """The active card a scanned token names; InvalidToken or CardBlocked otherwise."""
    try:
        claims = keyring.verify(token)
    except InvalidCardToken as error:
        raise InvalidToken(f"the card token is not valid ({error.reason})") from error
    card = uow.people.card(claims.card_number)
    if card is None:
        raise InvalidToken("the card token names no card")
    if card["blocked_at"] is not None:
        raise CardBlocked("this card is blocked; the resident's balance is on their replacement card")
    return dict(card)


def block_card(uow: UnitOfWork, *, number: str, now: dt.datetime, actor: str | None = None) -> dict[str, Any]:
    """Block a lost card; the balance stays with the resident (logged as a staff action when `actor`)."""
    card = uow.people.card(number)
    if card is None:
        raise NotFound(f"no card {number}")
    if not uow.people.block_card(number, now):
        raise Conflict("this card is already blocked")
    _log(uow, actor, "card.block", number, now)
    return dict(uow.people.card(number))


def replace_card(
    uow: UnitOfWork, *, number: str, key: CardSigningKey, now: dt.datetime, actor: str | None = None
) -> IssuedCard:
    """Block a card (if not already) and issue its resident a new one; wallets belong to the resident."""
    card = uow.people.card(number)
    if card is None:
        raise NotFound(f"no card {number}")
    uow.people.lock_resident(card["resident_id"])
    card = uow.people.card(number)  # read again under the lock: two replacements cannot both win
    if card["replaced_by"] is not None:
        raise Conflict(f"this card was already replaced by {card['replaced_by']}")
    others = [c["number"] for c in uow.people.cards_of(card["resident_id"]) if c["blocked_at"] is None]
    if [other for other in others if other != number]:
        raise Conflict("this resident already has another active card")
    issued = issue_card(uow, resident_id=card["resident_id"], key=key, now=now)
    if card["blocked_at"] is None:
        uow.people.block_card(number, now, replaced_by=issued.number)
    else:
        uow.people.mark_replaced(number, issued.number)
    _log(uow, actor, "card.replace", number, now, replaced_by=issued.number)
    return issued


def revocation_list(uow: UnitOfWork) -> list[str]:
    """The numbers of every blocked card, for kiosks checking tokens offline."""
    numbers: list[str] = uow.people.blocked_cards()
    return numbers
