"""Ed25519 signing keys for ledger checkpoints (signed Merkle tree heads)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import tempfile
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "TREE_HEAD_DOMAIN",
    "SigningKey",
    "generate_signing_key",
    "key_id_for",
    "load_or_create_key",
    "tree_head_message",
    "verify_signature",
]

TREE_HEAD_DOMAIN = b"clubcard-tree-head:v1\n"
"""Prefix of every signed tree head, so a checkpoint signature can never be replayed as another message."""

_KEY_ID_HEX_CHARS = 16
_PUBLIC_KEY_SIZE = 32
_ROOT_HASH_SIZE = 32


def key_id_for(public_key_bytes: bytes) -> str:
    """Return the key id: the first 16 hex characters of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_key_bytes).hexdigest()[:_KEY_ID_HEX_CHARS]


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """Return the 32-byte raw encoding of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key together with the key id that auditors use to find its public key."""

    key_id: str
    # repr=False keeps the key object out of logs and tracebacks that format this dataclass.
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        """Refuse a key id that does not belong to the private key, so checkpoints never mislabel."""
        expected = key_id_for(self.public_key_bytes())
        if self.key_id != expected:
            raise ValueError(f"key id {self.key_id!r} does not match the private key ({expected})")

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        """Wrap an Ed25519 private key, deriving its key id."""
        return cls(key_id=key_id_for(_raw_public_key(private_key.public_key())), private_key=private_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)

    def public_key_bytes(self) -> bytes:
        """Return the raw 32-byte public key to publish for verifiers."""
        return _raw_public_key(self.private_key.public_key())


def generate_signing_key() -> SigningKey:
    """Create a fresh random Ed25519 signing key."""
    return SigningKey.from_private_key(Ed25519PrivateKey.generate())


def load_or_create_key(path: pathlib.Path) -> tuple[SigningKey, bool]:
    """Load the PKCS8 PEM key at ``path``, or create it (mode 0o600); return (key, created)."""
    if path.exists():
        return _load_key(path), False
    key = generate_signing_key()
    if _create_key_file(path, _private_pem(key)):
        return key, True
    # Another process created the file between our check and our write: use its key, not ours,
    # so every worker signs with the key that is actually on disk.
    return _load_key(path), False


def _load_key(path: pathlib.Path) -> SigningKey:
    """Read an unencrypted PKCS8 PEM Ed25519 private key."""
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{path} holds a {type(private_key).__name__}, not an Ed25519 private key")
    return SigningKey.from_private_key(private_key)


def _private_pem(key: SigningKey) -> bytes:
    """Serialise a signing key as unencrypted PKCS8 PEM."""
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _create_key_file(path: pathlib.Path, pem: bytes) -> bool:
    """Atomically create ``path`` holding ``pem`` with mode 0o600; False if it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temp file (mkstemp uses 0o600) and hard-link it into place: the key file
    # appears complete or not at all, and os.link fails rather than overwrite a concurrent winner.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), 0o600)
            tmp.write(pem)
            tmp.flush()
            os.fsync(tmp.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def verify_signature(public_key_bytes: bytes, message: bytes, signature: bytes) -> bool:
    """Return True if ``signature`` is a valid Ed25519 signature of ``message``; False, never raises."""
    if len(public_key_bytes) != _PUBLIC_KEY_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key_bytes).verify(signature, message)
    except (InvalidSignature, ValueError):
        # ValueError covers a malformed public key; verifiers treat that as "not signed by it".
        return False
    return True


def tree_head_message(tree_size: int, root_hash: bytes, timestamp_iso: str, key_id: str) -> bytes:
    """Return the canonical bytes signed for a checkpoint of ``tree_size`` leaves with ``root_hash``."""
    # Fields are newline-separated, so refuse anything that could shift a boundary and make two
    # different checkpoints serialise to the same signed bytes.
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or tree_size < 0:
        raise ValueError(f"tree size must be a non-negative integer, got {tree_size!r}")
    if len(root_hash) != _ROOT_HASH_SIZE:
        raise ValueError(f"root hash must be {_ROOT_HASH_SIZE} raw bytes, got {len(root_hash)}")
    for name, value in (("timestamp", timestamp_iso), ("key id", key_id)):
        if not value or "\n" in value or "\r" in value:
            raise ValueError(f"{name} must be non-empty and on one line, got {value!r}")
    body = f"{tree_size}\n{root_hash.hex()}\n{timestamp_iso}\n{key_id}"
    return TREE_HEAD_DOMAIN + body.encode("utf-8")
