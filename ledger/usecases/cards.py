"""Cards: issue (number + signed QR token), resolve a scanned token, block a lost card, replace it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ledger.actors import Actor
from ledger.cards.keys import CardKeySet
from ledger.cards.token import (
    CardClaims,
    CardKeyring,
    CardSigningKey,
    InvalidCardToken,
    issue_token,
    new_card_number,
)
from ledger.errors import CardBlocked, Conflict, InvalidToken, NotFound
from ledger.ports import UnitOfWork
from ledger.usecases.replays import once_per_key
from ledger.usecases.residents import card_view, plausible_id
from ledger.usecases.staff_log import record_action

REVOCATION_LIST_LIMIT = 100_000


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
    uow: UnitOfWork,
    *,
    resident_id: str,
    key: CardSigningKey,
    now: dt.datetime,
    actor: Actor | str,
    idempotency_key: str | None = None,
) -> IssuedCard:
    """Issue a card to a resident who has no active card (a lost card is replaced, not duplicated);
    with an idempotency key, once."""

    def operation() -> dict[str, Any]:
        if not plausible_id(resident_id) or not uow.people.lock_resident(resident_id):
            raise NotFound(f"no resident {resident_id}")
        active = [card["number"] for card in uow.people.cards_of(resident_id) if card["blocked_at"] is None]
        if active:
            raise Conflict(f"this resident already has card {active[0]}: block or replace it instead")
        issued = issue_card(uow, resident_id=resident_id, key=key, now=now)
        _log(uow, actor, "card.issue", issued.number, now, resident_id=resident_id)
        return {"number": issued.number}

    request = {"op": "card.issue", "resident_id": resident_id}
    made = once_per_key(uow, actor=actor, key=idempotency_key, request=request, now=now, operation=operation)
    return _signed_again(uow, made["number"], key)


def _signed_again(uow: UnitOfWork, number: str, key: CardSigningKey) -> IssuedCard:
    """A card just made, with its token signed again exactly as issued: an idempotency record keeps the
    card's number, never its token (a bearer credential), so a replay shows the very same card."""
    card = uow.people.card(number)
    assert card is not None, "an idempotent card write names a card it made"
    if card["key_id"] != key.key_id:
        raise Conflict(
            f"card {number} was issued under card key {card['key_id']}, which no longer signs new cards: "
            f"print it from /api/v1/cards/{number}/card.pdf"
        )
    token = issue_token(number, issued_at_seconds(card), key)
    return IssuedCard(number, card["resident_id"], token, card["key_id"], card["issued_at"])


def _log(
    uow: UnitOfWork, actor: Actor | str | None, action: str, number: str, now: dt.datetime, **detail: str
) -> None:
    if actor is not None:
        record_action(uow, actor=actor, action=action, target=number, detail=detail, now=now)


def look_up_card(uow: UnitOfWork, *, number: str, now: dt.datetime, actor: Actor | str) -> dict[str, Any]:
    """A card's status (active, blocked or replaced), its resident and replacement; recorded in the staff
    log, since it tells staff whose card it is."""
    card = uow.people.card(number)
    if card is None:
        raise NotFound(f"no card {number}")
    _log(uow, actor, "card.lookup", number, now, resident_id=card["resident_id"])
    return card_view(card)


def printable_card(uow: UnitOfWork, *, number: str, keys: CardKeySet) -> PrintableCard:
    """An active card's token and the names of its resident's schemes, for printing."""
    card, token = card_token(uow, number=number, keys=keys)
    if card["blocked_at"] is not None:
        raise CardBlocked("this card is blocked: print its replacement instead")
    names = []
    for membership in uow.people.memberships_of(card["resident_id"]):
        scheme = uow.schemes.get(id=membership["scheme_id"])
        if scheme is not None:
            names.append(scheme["name"])
    return PrintableCard(number, token, tuple(sorted(names)))


def card_token(uow: UnitOfWork, *, number: str, keys: CardKeySet) -> tuple[dict[str, Any], str]:
    """An existing card and the very token it was issued (same key, number and issue time)."""
    card = uow.keys.card_for_token(number)
    if card is None:
        raise NotFound(f"no card {number}")
    if card["key_distrusted"]:
        raise Conflict(f"card key {card['key_id']} that signed this card was distrusted: replace the card")
    # Signing with the card's own key, not the current one: a token under another key is refused.
    key = keys.signing_key(card["key_id"])
    if key is None:
        raise Conflict(
            f"card key {card['key_id']} that signed this card is not on this server: replace the card"
        )
    return card, issue_token(number, issued_at_seconds(card), key)


def issued_at_seconds(card: dict[str, Any]) -> int:
    """The issue time a card's token carries: whole Unix seconds."""
    return int(card["issued_at"].timestamp())


def resolve_card(uow: UnitOfWork, *, keyring: CardKeyring, token: str) -> dict[str, Any]:
    """The active card a scanned token names; InvalidToken or CardBlocked otherwise."""
    claims = token_claims(keyring, token)
    return card_named_by(claims, uow.keys.card_for_token(claims.card_number))


def token_claims(keyring: CardKeyring, token: str) -> CardClaims:
    """What a scanned token says, once its signature is verified; InvalidToken otherwise."""
    try:
        return keyring.verify(token)
    except InvalidCardToken as error:
        raise InvalidToken(f"the card token is not valid ({error.reason})") from error


def card_named_by(claims: CardClaims, card: dict[str, Any] | None) -> dict[str, Any]:
    """The card verified claims name, if it is active and theirs (a batch reads many cards at once)."""
    if card is None:
        raise InvalidToken("the card token names no card")
    if not is_issued_token(card, claims):
        # A genuine signature is not enough: a retired or leaked key could sign any card number.
        raise InvalidToken("the card token is not the one issued for this card")
    if card["blocked_at"] is not None:
        raise CardBlocked("this card is blocked; the resident's balance is on their replacement card")
    if card["key_distrusted"]:
        raise InvalidToken("this card was signed by a distrusted card key: the resident needs a new card")
    card.pop("key_distrusted")
    return card


def is_issued_token(card: dict[str, Any], claims: CardClaims) -> bool:
    """Whether verified claims are those recorded when the card's token was issued (key id, issue time)."""
    return claims.key_id == card["key_id"] and claims.issued_at == issued_at_seconds(card)


def block_card(
    uow: UnitOfWork,
    *,
    number: str,
    now: dt.datetime,
    actor: Actor | str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Block a lost card; the balance stays with the resident (logged as a staff action when `actor`).
    With an idempotency key, once: a retry gets the first answer, not 409 already blocked."""
    assert actor is not None or idempotency_key is None, "an idempotency key belongs to an actor"

    def operation() -> dict[str, Any]:
        if uow.people.card(number) is None:
            raise NotFound(f"no card {number}")
        if not uow.people.block_card(number, now):
            raise Conflict("this card is already blocked")
        _log(uow, actor, "card.block", number, now)
        return card_view(uow.people.card(number))

    request = {"op": "card.block", "number": number}
    return once_per_key(
        uow, actor=actor or "", key=idempotency_key, request=request, now=now, operation=operation
    )


def replace_card(
    uow: UnitOfWork,
    *,
    number: str,
    key: CardSigningKey,
    now: dt.datetime,
    actor: Actor | str | None = None,
    idempotency_key: str | None = None,
) -> IssuedCard:
    """Block a card (if not already) and issue its resident a new one; wallets belong to the resident.
    With an idempotency key, once: a retry gets the same new card, not 409 already replaced."""
    assert actor is not None or idempotency_key is None, "an idempotency key belongs to an actor"

    def operation() -> dict[str, Any]:
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
        return {"number": issued.number}

    request = {"op": "card.replace", "number": number}
    made = once_per_key(
        uow, actor=actor or "", key=idempotency_key, request=request, now=now, operation=operation
    )
    return _signed_again(uow, made["number"], key)


def revocation_list(uow: UnitOfWork) -> list[str]:
    """Numbers of cards kiosks must refuse offline: blocked cards and cards signed by a distrusted key."""
    blocked: list[str] = uow.people.blocked_cards()
    distrusted: list[str] = uow.keys.cards_under_distrusted_keys(limit=REVOCATION_LIST_LIMIT)
    return sorted({*blocked, *distrusted})
