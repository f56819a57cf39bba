"""Checking a scanned card offline: the council's signature and the revocation list, from the cached keys.

The document is `/.well-known/clubcard-keys`, replaced whole on every refresh (never merged): a token is
trusted only when its key id is among `keys` and not among `distrusted_keys`, and its card number is not in
`revoked_cards`. Token parsing and signature checks are ledger.cards.token's, the same code the API runs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ledger.cards.token import CardClaims, CardKeyring, InvalidCardToken


class CardRevoked(Exception):
    """The card is on the revocation list (lost, replaced or signed by a withdrawn key)."""


def _raw_key(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OfflineVerifier:
    """Verifies tokens against one cached keys document."""

    def __init__(self, document: Mapping[str, Any] | None) -> None:
        document = document or {}
        self.distrusted = frozenset(str(key_id) for key_id in document.get("distrusted_keys") or ())
        self.revoked = frozenset(str(number) for number in document.get("revoked_cards") or ())
        self.keyring = CardKeyring()
        for entry in document.get("keys") or ():
            key_id = str(entry.get("key_id", ""))
            if key_id in self.distrusted or entry.get("algorithm", "Ed25519") != "Ed25519":
                continue
            try:
                self.keyring.add(key_id, _raw_key(str(entry.get("public_key", ""))))
            except (ValueError, binascii.Error):
                continue  # a malformed entry is simply not trusted

    @property
    def has_keys(self) -> bool:
        """True once a keys document with at least one trusted key was cached."""
        return bool(self.keyring.key_ids)

    def verify(self, token: str) -> CardClaims:
        """The claims of a genuine, unrevoked token; InvalidCardToken or CardRevoked otherwise."""
        claims = self.keyring.verify(token)
        if claims.key_id in self.distrusted:  # never in the keyring, but say so plainly if it were
            raise InvalidCardToken("distrusted_key")
        if claims.card_number in self.revoked:
            raise CardRevoked(claims.card_number)
        return claims
