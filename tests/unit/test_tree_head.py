"""A saved tree head is read back exactly, checked field by field, and trusted only when genuinely signed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ledger.errors import ValidationFailed
from ledger.merkle import leaf_hash, root_hash
from ledger.signing import SigningKey, generate_signing_key, tree_head_message
from ledger.usecases.trusted_heads import TreeHead

SIGNED_AT = "2026-11-30T17:00:00.000000Z"


def signed_head(key: SigningKey, tree_size: int = 3) -> TreeHead:
    """A genuine head over `tree_size` made-up leaves."""
    root = root_hash([leaf_hash(bytes([i]) * 32) for i in range(tree_size)])
    signature = key.sign(tree_head_message(tree_size, root, SIGNED_AT, key.key_id))
    return TreeHead(
        tree_size, root.hex(), SIGNED_AT, key.key_id, signature.hex(), key.public_key_bytes().hex()
    )


def test_a_head_reads_back_from_its_document_unchanged() -> None:
    head = signed_head(generate_signing_key())
    document = head.document()
    assert document["algorithm"] == "Ed25519"
    assert TreeHead.from_document(document) == head


def test_a_genuine_head_signed_by_a_trusted_key_has_no_problem() -> None:
    key = generate_signing_key()
    assert signed_head(key).problem({key.key_id}) is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tree_size": 4}, "signature does not verify"),
        ({"signed_at": "2026-11-30T17:00:00Z"}, "signature does not verify"),  # same instant, other text
        ({"root_hash": "ab" * 32}, "signature does not verify"),
        ({"public_key": generate_signing_key().public_key_bytes().hex()}, "public key is not key"),
    ],
)
def test_a_head_altered_in_any_signed_field_is_not_trusted(change: dict[str, Any], expected: str) -> None:
    key = generate_signing_key()
    altered = dataclasses.replace(signed_head(key), **change)
    assert expected in (altered.problem({key.key_id}) or "")


def test_a_head_signed_by_a_key_this_ledger_does_not_trust_is_named_by_its_key_id() -> None:
    key = generate_signing_key()
    assert (
        signed_head(key).problem({"0" * 16})
        == f"the head was signed by key {key.key_id}, not by this ledger's key"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tree_size": -1}, "tree_size must be a whole number"),
        ({"tree_size": True}, "tree_size must be a whole number"),
        ({"tree_size": "3"}, "tree_size must be a whole number"),
        ({"root_hash": "AB" * 32}, "root_hash must be 64 lower-case hexadecimal characters"),
        ({"signature": "00"}, "signature must be 128"),
        ({"key_id": None}, "key_id must be 16"),
        ({"signed_at": "yesterday"}, "signed_at must be an RFC 3339 instant"),
        ({"signed_at": "2026-11-30T17:00:00"}, "signed_at must be an RFC 3339 instant"),
        ({"algorithm": "RSA"}, "algorithm must be Ed25519"),
    ],
)
def test_a_document_that_is_not_a_head_says_which_field_is_wrong(
    change: dict[str, Any], expected: str
) -> None:
    document = {**signed_head(generate_signing_key()).document(), **change}
    with pytest.raises(ValidationFailed, match=expected):
        TreeHead.from_document(document)


@pytest.mark.parametrize("document", [[], "head", None, 3])
def test_anything_but_a_json_object_is_not_a_head(document: Any) -> None:
    with pytest.raises(ValidationFailed, match="a tree head is a JSON object"):
        TreeHead.from_document(document)
