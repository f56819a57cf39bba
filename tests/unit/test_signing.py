"""Unit tests for the Ed25519 checkpoint signing keys in ledger.signing."""

from __future__ import annotations

import hashlib
import pathlib
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signing import (
    SigningKey,
    generate_signing_key,
    key_id_for,
    load_or_create_key,
    tree_head_message,
    verify_signature,
)

# RFC 8032 section 7.1, TEST 2: Ed25519 is deterministic, so signing must reproduce this exactly.
RFC8032_SECRET = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
RFC8032_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC8032_MESSAGE = bytes.fromhex("72")
RFC8032_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)

ROOT = hashlib.sha256(b"some tree").digest()


def rfc8032_key() -> SigningKey:
    """The RFC 8032 TEST 2 key wrapped as a SigningKey."""
    return SigningKey.from_private_key(Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET))


# --- keys and signatures ----------------------------------------------------------------------------


def test_signing_reproduces_the_rfc_8032_known_answer() -> None:
    key = rfc8032_key()
    assert key.public_key_bytes() == RFC8032_PUBLIC
    assert key.sign(RFC8032_MESSAGE) == RFC8032_SIGNATURE
    assert verify_signature(RFC8032_PUBLIC, RFC8032_MESSAGE, RFC8032_SIGNATURE)


def test_the_key_id_is_the_first_16_hex_characters_of_sha256_of_the_raw_public_key() -> None:
    key = rfc8032_key()
    expected = hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]
    assert key.key_id == expected == key_id_for(RFC8032_PUBLIC)


def test_a_signature_round_trips_through_verify_signature() -> None:
    key = generate_signing_key()
    message = b"checkpoint"
    signature = key.sign(message)
    assert len(signature) == 64
    assert len(key.public_key_bytes()) == 32
    assert verify_signature(key.public_key_bytes(), message, signature)


def test_a_tampered_message_fails_verification() -> None:
    key = generate_signing_key()
    signature = key.sign(b"tree size 10")
    assert not verify_signature(key.public_key_bytes(), b"tree size 11", signature)


def test_a_tampered_signature_fails_verification() -> None:
    key = generate_signing_key()
    signature = bytearray(key.sign(b"checkpoint"))
    signature[0] ^= 1
    assert not verify_signature(key.public_key_bytes(), b"checkpoint", bytes(signature))


def test_a_signature_from_another_key_fails_verification() -> None:
    signer, other = generate_signing_key(), generate_signing_key()
    assert not verify_signature(other.public_key_bytes(), b"checkpoint", signer.sign(b"checkpoint"))


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [
        (RFC8032_PUBLIC[:31], RFC8032_SIGNATURE),
        (RFC8032_PUBLIC + b"\x00", RFC8032_SIGNATURE),
        (RFC8032_PUBLIC, RFC8032_SIGNATURE[:63]),
        (RFC8032_PUBLIC, b""),
        (RFC8032_PUBLIC, b"\x00" * 64),
    ],
)
def test_malformed_keys_and_signatures_return_false_rather_than_raise(
    public_key: bytes, signature: bytes
) -> None:
    assert not verify_signature(public_key, RFC8032_MESSAGE, signature)


def test_generated_keys_are_distinct() -> None:
    assert generate_signing_key().key_id != generate_signing_key().key_id


def test_a_signing_key_refuses_a_key_id_that_is_not_its_own() -> None:
    private_key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError):
        SigningKey(key_id="0000000000000000", private_key=private_key)


def test_the_repr_of_a_signing_key_does_not_include_the_private_key() -> None:
    key = generate_signing_key()
    assert "private_key" not in repr(key)
    assert key.key_id in repr(key)


# --- key files --------------------------------------------------------------------------------------


def test_load_or_create_key_creates_the_file_once_and_then_reloads_the_same_key(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "keys" / "nested" / "checkpoint.pem"
    created_key, created = load_or_create_key(path)
    assert created
    assert path.is_file()

    reloaded_key, created_again = load_or_create_key(path)
    assert not created_again
    assert reloaded_key.key_id == created_key.key_id
    assert reloaded_key.public_key_bytes() == created_key.public_key_bytes()
    message = b"checkpoint"
    assert verify_signature(created_key.public_key_bytes(), message, reloaded_key.sign(message))


def test_a_created_key_file_is_readable_only_by_its_owner(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "checkpoint.pem"
    load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_created_key_file_is_unencrypted_pkcs8_pem_and_leaves_no_temp_files(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "checkpoint.pem"
    key, _ = load_or_create_key(path)
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert SigningKey.from_private_key(loaded).key_id == key.key_id
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pem"]


def test_load_or_create_key_reads_an_existing_pem_written_elsewhere(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "checkpoint.pem"
    path.write_bytes(
        Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key, created = load_or_create_key(path)
    assert not created
    assert key.public_key_bytes() == RFC8032_PUBLIC


def test_load_or_create_key_refuses_a_pem_that_is_not_an_ed25519_key(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "checkpoint.pem"
    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError):
        load_or_create_key(path)


# --- tree head message ------------------------------------------------------------------------------


def test_the_tree_head_message_is_the_documented_canonical_byte_string() -> None:
    message = tree_head_message(42, ROOT, "2024-05-01T12:00:00Z", "0123456789abcdef")
    assert message == (
        b"clubcard-tree-head:v1\n42\n" + ROOT.hex().encode() + b"\n2024-05-01T12:00:00Z\n0123456789abcdef"
    )


def test_a_signed_tree_head_verifies_and_fails_for_any_other_field() -> None:
    key = generate_signing_key()
    stamp = "2024-05-01T12:00:00Z"
    signature = key.sign(tree_head_message(42, ROOT, stamp, key.key_id))
    public = key.public_key_bytes()
    assert verify_signature(public, tree_head_message(42, ROOT, stamp, key.key_id), signature)
    assert not verify_signature(public, tree_head_message(43, ROOT, stamp, key.key_id), signature)
    other_root = hashlib.sha256(b"other tree").digest()
    assert not verify_signature(public, tree_head_message(42, other_root, stamp, key.key_id), signature)
    assert not verify_signature(
        public, tree_head_message(42, ROOT, "2024-05-01T12:00:01Z", key.key_id), signature
    )


@pytest.mark.parametrize(
    ("tree_size", "root", "timestamp", "key_id"),
    [
        (-1, ROOT, "2024-05-01T12:00:00Z", "0123456789abcdef"),
        (1, ROOT[:31], "2024-05-01T12:00:00Z", "0123456789abcdef"),
        (1, ROOT.hex().encode(), "2024-05-01T12:00:00Z", "0123456789abcdef"),
        (1, ROOT, "2024-05-01T12:00:00Z\n7", "0123456789abcdef"),
        (1, ROOT, "2024-05-01T12:00:00Z", "0123\n456789abcdef"),
        (1, ROOT, "", "0123456789abcdef"),
        (1, ROOT, "2024-05-01T12:00:00Z", ""),
    ],
)
def test_the_tree_head_message_refuses_fields_that_would_make_it_ambiguous(
    tree_size: int, root: bytes, timestamp: str, key_id: str
) -> None:
    with pytest.raises(ValueError):
        tree_head_message(tree_size, root, timestamp, key_id)
