"""Compact, versioned, Ed25519-signed card tokens that fit in a QR code, and human card numbers.

Token layout (ASCII only, so a USB/HID keyboard-wedge scanner can type it)::

    C1.<base64url(payload)>.<base64url(signature)>

payload = u8 len(card) | card | u8 len(kid) | kid | u64 big-endian issued_at, and the signature
covers the ASCII bytes of ``C1.<payload>``, so the version prefix cannot be swapped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import struct
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TOKEN_VERSION = "C1"
MAX_TOKEN_LENGTH = 300
MAX_INPUT_LENGTH = 512
MAX_CARD_NUMBER_LENGTH = 32
MAX_KEY_ID_LENGTH = 16
_SIGNATURE_LENGTH = 64
# Tokens a keyring has verified, remembered so a card scanned again (entitlements, then the spend) costs no
# second Ed25519 check. Bounded, oldest forgotten first; only genuine tokens are kept, so junk cannot fill it.
MAX_VERIFIED_TOKENS = 65_536
_MAX_ISSUED_AT = 2**64 - 1
# Printable ASCII without space: safe for QR byte mode and for scanners that "type" the token.
_SAFE_FIELD = re.compile(r"[\x21-\x7e]+")
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_.-]+")


class InvalidCardToken(ValueError):
    """A scanned card token that must not be trusted; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid card token: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class CardClaims:
    """What a verified card token asserts: which card, which key signed it, and when."""

    card_number: str
    key_id: str
    issued_at: int


@dataclass(frozen=True)
class CardSigningKey:
    """An Ed25519 private key for issuing card tokens, named by a key id derived from its public key."""

    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> CardSigningKey:
        """Wrap a private key, deriving its key id from the public key."""
        raw = private_key.public_key().public_bytes_raw()
        return cls(key_id=key_id_for(raw), private_key=private_key)

    def public_key_bytes(self) -> bytes:
        """Return the raw 32-byte Ed25519 public key, as a keyring stores it."""
        return self.private_key.public_key().public_bytes_raw()


def key_id_for(public_key: bytes) -> str:
    """Return the key id of a raw public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def generate_card_key() -> CardSigningKey:
    """Generate a fresh card signing key."""
    return CardSigningKey.from_private_key(Ed25519PrivateKey.generate())


def load_or_create_card_key(path: str | os.PathLike[str]) -> tuple[CardSigningKey, bool]:
    """Load the PEM (PKCS#8) card key at ``path``, creating it if absent; return (key, created)."""
    target = Path(path)
    if target.exists():
        return load_card_key(target), False
    target.parent.mkdir(parents=True, exist_ok=True)
    key = generate_card_key()
    pem = card_key_pem(key)
    # mkstemp creates the file 0o600, so the key is never readable by others, not even briefly.
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".card-key-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o600)
        try:
            # link() refuses to overwrite, so two processes racing here agree on one key.
            os.link(tmp_name, target)
        except FileExistsError:
            return load_card_key(target), False
    finally:
        os.unlink(tmp_name)
    return key, True


def card_key_pem(key: CardSigningKey) -> bytes:
    """Serialise a card key as unencrypted PKCS#8 PEM, the form the key files hold."""
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_card_key(path: str | os.PathLike[str]) -> CardSigningKey:
    """Read the PEM (PKCS#8) card key at ``path``; OSError if it cannot be read, ValueError if not Ed25519."""
    path = Path(path)
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return CardSigningKey.from_private_key(private_key)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCardToken("format") from exc
    # Decoders ignore unused trailing bits; insisting on the canonical form means every
    # altered character is rejected, so a token has exactly one valid spelling.
    if _b64encode(data) != text:
        raise InvalidCardToken("format")
    return data


def _check_field(value: str, max_length: int, name: str) -> bytes:
    if not (0 < len(value) <= max_length and _SAFE_FIELD.fullmatch(value)):
        raise ValueError(f"{name} must be 1-{max_length} printable ASCII characters without spaces")
    return value.encode("ascii")


def _encode_payload(claims: CardClaims) -> bytes:
    card = _check_field(claims.card_number, MAX_CARD_NUMBER_LENGTH, "card_number")
    kid = _check_field(claims.key_id, MAX_KEY_ID_LENGTH, "key_id")
    if not 0 <= claims.issued_at <= _MAX_ISSUED_AT:
        raise ValueError("issued_at must be a non-negative Unix time")
    return bytes([len(card)]) + card + bytes([len(kid)]) + kid + struct.pack(">Q", claims.issued_at)


def _decode_payload(payload: bytes) -> CardClaims:
    try:
        card_end = 1 + payload[0]
        kid_end = card_end + 1 + payload[card_end]
        if len(payload) != kid_end + 8:
            raise ValueError("payload has the wrong length")
        (issued_at,) = struct.unpack(">Q", payload[kid_end:])
        claims = CardClaims(
            card_number=payload[1:card_end].decode("ascii"),
            key_id=payload[card_end + 1 : kid_end].decode("ascii"),
            issued_at=issued_at,
        )
        # Re-encoding validates the fields exactly as issue_token does.
        _encode_payload(claims)
    except (IndexError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidCardToken("format") from exc
    return claims


def issue_token(card_number: str, issued_at: int, key: CardSigningKey) -> str:
    """Return the signed QR token for ``card_number``, issued at Unix time ``issued_at``."""
    claims = CardClaims(card_number=card_number, key_id=key.key_id, issued_at=issued_at)
    signed = f"{TOKEN_VERSION}.{_b64encode(_encode_payload(claims))}"
    token = f"{signed}.{_b64encode(key.private_key.sign(signed.encode('ascii')))}"
    assert len(token) <= MAX_TOKEN_LENGTH, "field limits keep tokens short"
    return token


class CardKeyring:
    """Public card keys by key id; verifies tokens signed by any of them, so keys can rotate."""

    def __init__(self, public_keys: Mapping[str, bytes] | None = None) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._verified: dict[str, CardClaims] = {}  # insertion order is age: the first is the oldest
        self._verified_lock = threading.Lock()
        for key_id, raw in (public_keys or {}).items():
            self.add(key_id, raw)

    @classmethod
    def of(cls, *keys: CardSigningKey) -> CardKeyring:
        """Build a keyring holding the public halves of the given signing keys."""
        return cls({key.key_id: key.public_key_bytes() for key in keys})

    def add(self, key_id: str, public_key: bytes) -> None:
        """Trust tokens signed by the raw 32-byte Ed25519 ``public_key`` under ``key_id``."""
        _check_field(key_id, MAX_KEY_ID_LENGTH, "key_id")
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 raw bytes")
        self._keys[key_id] = Ed25519PublicKey.from_public_bytes(public_key)
        with self._verified_lock:
            self._verified.clear()  # a key replaced under the same id must be checked afresh

    def public_keys(self) -> dict[str, bytes]:
        """Every trusted public key by key id (to publish for offline verification)."""
        return {key_id: key.public_bytes_raw() for key_id, key in self._keys.items()}

    @property
    def key_ids(self) -> frozenset[str]:
        """The key ids this keyring trusts."""
        return frozenset(self._keys)

    def verify(self, token: str) -> CardClaims:
        """Return the claims of a genuine token, or raise InvalidCardToken saying why not."""
        # Bound the work done on hostile input before any decoding.
        if len(token) > MAX_INPUT_LENGTH:
            raise InvalidCardToken("oversize")
        # Keyboard-wedge scanners end a scan with Enter; that is not part of the token.
        token = token.strip()
        known = self._verified.get(token)
        if known is not None:
            return known
        claims = self._verify_signature(token)
        with self._verified_lock:
            if len(self._verified) >= MAX_VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        return claims

    def _verify_signature(self, token: str) -> CardClaims:
        if not _TOKEN_SHAPE.fullmatch(token) or token.count(".") != 2:
            raise InvalidCardToken("format")
        version, payload_text, signature_text = token.split(".")
        if version != TOKEN_VERSION:
            raise InvalidCardToken("version")
        claims = _decode_payload(_b64decode(payload_text))
        signature = _b64decode(signature_text)
        public_key = self._keys.get(claims.key_id)
        if public_key is None:
            raise InvalidCardToken("unknown_key")
        if len(signature) != _SIGNATURE_LENGTH:
            raise InvalidCardToken("signature")
        try:
            public_key.verify(signature, f"{version}.{payload_text}".encode("ascii"))
        except InvalidSignature as exc:
            raise InvalidCardToken("signature") from exc
        return claims


# Crockford base32 digits: no I, L, O or U, so nothing reads as 1, 0 or V.
CARD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CARD_PREFIX = "CC"
_RANDOM_SYMBOLS = 15  # 75 bits: guessing a live card number is hopeless.
_GROUP = 4
_CARD_NUMBER_SHAPE = re.compile(rf"{CARD_PREFIX}(-[{CARD_ALPHABET}]{{{_GROUP}}}){{4}}")
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _gf32_mul(a: int, b: int) -> int:
    # Multiplication in GF(2^5) modulo the primitive polynomial x^5 + x^2 + 1.
    product = 0
    for _ in range(5):
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0b100000:
            a ^= 0b100101
    return product


def _check_symbol(symbols: str) -> str:
    # sum of alpha^(i+1) * v_i over GF(32): distinct non-zero weights catch every single
    # substitution, and every transposition, since alpha^d != 1 for d < 31.
    total, weight = 0, 1
    for symbol in symbols:
        weight = _gf32_mul(weight, 2)
        total ^= _gf32_mul(weight, CARD_ALPHABET.index(symbol))
    return CARD_ALPHABET[total]


def _group(symbols: str) -> str:
    groups = [symbols[i : i + _GROUP] for i in range(0, len(symbols), _GROUP)]
    return "-".join([CARD_PREFIX, *groups])


def new_card_number() -> str:
    """Return a random card number like ``CC-7Q4M-2K9X-HT3P-R8VD``, whose last symbol is a check."""
    symbols = "".join(secrets.choice(CARD_ALPHABET) for _ in range(_RANDOM_SYMBOLS))
    return _group(symbols + _check_symbol(symbols))


def is_valid_card_number(card_number: str) -> bool:
    """Tell whether ``card_number`` is in canonical form and its check symbol matches."""
    if not _CARD_NUMBER_SHAPE.fullmatch(card_number):
        return False
    symbols = card_number[len(CARD_PREFIX) :].replace("-", "")
    return _check_symbol(symbols[:-1]) == symbols[-1]


def normalize_card_number(text: str) -> str:
    """Turn a hand-typed card number into canonical form, or raise ValueError if it has a typo."""
    compact = re.sub(r"[\s-]", "", text.upper())
    # The prefix is optional when typing; only strip it when the rest has the right length.
    if len(compact) == len(CARD_PREFIX) + _RANDOM_SYMBOLS + 1 and compact.startswith(CARD_PREFIX):
        compact = compact[len(CARD_PREFIX) :]
    candidate = _group(compact.translate(_CONFUSABLES))
    if not is_valid_card_number(candidate):
        raise ValueError("not a valid card number")
    return candidate
