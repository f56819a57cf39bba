"""Card keys: distrust a leaked key (its tokens are refused, its cards need reissuing) and publish keys."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ledger.cards.keys import CardKeySet
from ledger.errors import Conflict, NotFound, ValidationFailed
from ledger.ports import UnitOfWork
from ledger.usecases.cards import REVOCATION_LIST_LIMIT, revocation_list
from ledger.usecases.common import new_id

MAX_CARDS_LISTED = 100_000
_KEY_ID_LENGTH = 16
_HEX_DIGITS = frozenset("0123456789abcdef")


@dataclasses.dataclass(frozen=True)
class DistrustedCardKey:
    """A distrusted card key and the active cards it signed, which need reissuing."""

    key_id: str
    distrusted_at: dt.datetime
    already_distrusted: bool
    cards_to_reissue: tuple[str, ...]
    cards_to_reissue_count: int


@dataclasses.dataclass(frozen=True)
class PublishedCardKeys:
    """What kiosks need offline: trusted public keys, distrusted key ids and the cards to refuse."""

    public_keys: dict[str, bytes]
    distrusted_key_ids: tuple[str, ...]
    revoked_cards: tuple[str, ...]


def distrust_card_key(
    uow: UnitOfWork, *, key_id: str, keys: CardKeySet, now: dt.datetime, actor: str
) -> DistrustedCardKey:
    """Refuse every token signed by ``key_id`` from now on; list the active cards it signed."""
    key_id = key_id.strip().lower()
    if len(key_id) != _KEY_ID_LENGTH or not set(key_id) <= _HEX_DIGITS:
        raise ValidationFailed(f"a card key id is {_KEY_ID_LENGTH} hex digits; {_known_keys(keys)}")
    if key_id == keys.current.key_id:
        raise Conflict(
            f"card key {key_id} signs new cards: run `clubcard keys rotate-card-key` first, then distrust it"
        )
    cards, count = uow.keys.active_cards_signed_by(key_id, limit=MAX_CARDS_LISTED)
    existing = uow.keys.distrusted_key(key_id)
    if keys.signing_key(key_id) is None and count == 0 and existing is None:
        raise NotFound(f"no card key {key_id} signed any active card here; {_known_keys(keys)}")
    if existing is None:
        uow.keys.distrust(key_id=key_id, actor=actor, now=now)
        uow.registry.log_action(
            id=new_id(),
            actor=actor,
            action="card_key.distrust",
            target=key_id,
            detail={"cards_to_reissue": count},
            now=now,
        )
    distrusted_at = now if existing is None else existing["distrusted_at"]
    return DistrustedCardKey(key_id, distrusted_at, existing is not None, tuple(cards), count)


def _known_keys(keys: CardKeySet) -> str:
    retired = ", ".join(sorted(keys.retired)) or "none"
    return f"card keys here: {keys.current.key_id} (current), retired: {retired}"


def published_card_keys(uow: UnitOfWork, *, keys: CardKeySet) -> PublishedCardKeys:
    """Public card keys by id without the distrusted ones, the distrusted ids, and the revocation list."""
    distrusted = tuple(uow.keys.distrusted_key_ids())
    public_keys = {
        key_id: public_key
        for key_id, public_key in keys.keyring.public_keys().items()
        if key_id not in distrusted
    }
    revoked = revocation_list(uow)
    assert len(revoked) <= 2 * REVOCATION_LIST_LIMIT, "the revocation list is bounded"
    return PublishedCardKeys(public_keys, distrusted, tuple(revoked))
