"""Signed card tokens and human card numbers."""

from __future__ import annotations

import stat
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.cards.token import (
    CARD_ALPHABET,
    MAX_TOKEN_LENGTH,
    CardClaims,
    CardKeyring,
    InvalidCardToken,
    generate_card_key,
    is_valid_card_number,
    issue_token,
    key_id_for,
    load_or_create_card_key,
    new_card_number,
    normalize_card_number,
)

ISSUED_AT = 1_767_225_600  # 2026-01-01T00:00:00Z
KEY = generate_card_key()
KEYRING = CardKeyring.of(KEY)
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
printable_fields = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


def _reason(keyring: CardKeyring, token: str) -> str:
    with pytest.raises(InvalidCardToken) as caught:
        keyring.verify(token)
    return caught.value.reason


def test_a_token_verifies_to_the_claims_it_was_issued_with() -> None:
    token = issue_token("CC-7Q4M-2K9X-HT3P", ISSUED_AT, KEY)
    assert KEYRING.verify(token) == CardClaims("CC-7Q4M-2K9X-HT3P", KEY.key_id, ISSUED_AT)


def test_tokens_are_versioned_and_use_only_characters_a_keyboard_scanner_can_type() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    version, payload, signature = token.split(".")
    assert version == "C1"
    assert set(payload + signature) <= set(TOKEN_ALPHABET)


def test_the_longest_card_number_and_key_id_still_give_a_token_within_300_characters() -> None:
    key = generate_card_key()
    token = issue_token("Z" * 32, 2**64 - 1, key)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert len(key.key_id) == 16


def test_changing_any_character_of_a_token_makes_it_fail_verification() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    for index, original in enumerate(token):
        # Every other character a scanner could type, so non-canonical base64 spellings are tried too.
        for replacement in set(TOKEN_ALPHABET + ".") - {original}:
            tampered = token[:index] + replacement + token[index + 1 :]
            with pytest.raises(InvalidCardToken):
                KEYRING.verify(tampered)


def test_a_token_signed_by_a_key_outside_the_keyring_is_rejected_as_unknown() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, generate_card_key())
    assert _reason(KEYRING, token) == "unknown_key"


def test_a_token_whose_key_id_is_trusted_but_signature_is_not_is_rejected() -> None:
    impostor = generate_card_key()
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    keyring = CardKeyring({KEY.key_id: impostor.public_key_bytes()})
    assert _reason(keyring, token) == "signature"


def test_a_keyring_with_old_and_new_keys_verifies_tokens_from_both() -> None:
    old, new = generate_card_key(), generate_card_key()
    old_token = issue_token(new_card_number(), ISSUED_AT, old)
    new_token = issue_token(new_card_number(), ISSUED_AT + 1, new)
    both = CardKeyring({old.key_id: old.public_key_bytes(), new.key_id: new.public_key_bytes()})
    assert both.verify(old_token).key_id == old.key_id
    assert both.verify(new_token).key_id == new.key_id
    assert _reason(CardKeyring.of(new), old_token) == "unknown_key"
    assert both.key_ids == {old.key_id, new.key_id}


def test_input_longer_than_512_characters_is_rejected_before_decoding() -> None:
    assert _reason(KEYRING, "C1." + "A" * 600) == "oversize"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "format"),
        ("not a token", "format"),
        ("C1.AAAA", "format"),
        ("C1.AAAA.AAAA.AAAA", "format"),
        ("C1.!!!!.AAAA", "format"),
        ("C1.AAAA.AAAA", "format"),
        ("C2.AAAA.AAAA", "version"),
    ],
)
def test_malformed_tokens_are_rejected_with_a_short_reason(token: str, reason: str) -> None:
    assert _reason(KEYRING, token) == reason


def test_a_token_from_a_future_version_is_rejected_even_with_a_valid_body() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    assert _reason(KEYRING, "C2" + token[2:]) == "version"


def test_the_enter_a_keyboard_scanner_sends_after_a_token_is_ignored() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    assert KEYRING.verify(token + "\r\n").issued_at == ISSUED_AT


def test_invalid_card_token_is_a_value_error() -> None:
    assert issubclass(InvalidCardToken, ValueError)


@pytest.mark.parametrize(("card_number", "issued_at"), [("", 0), ("has space", 0), ("X" * 33, 0), ("X", -1)])
def test_claims_that_cannot_be_encoded_are_refused_at_issue(card_number: str, issued_at: int) -> None:
    with pytest.raises(ValueError):
        issue_token(card_number, issued_at, KEY)


def test_a_keyring_refuses_a_public_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError):
        CardKeyring({"kid": b"\x00" * 31})


@given(card_number=printable_fields.filter(lambda s: len(s) <= 32), issued_at=st.integers(0, 2**64 - 1))
def test_any_encodable_card_number_and_issue_time_round_trip(card_number: str, issued_at: int) -> None:
    token = issue_token(card_number, issued_at, KEY)
    assert len(token) <= MAX_TOKEN_LENGTH
    assert KEYRING.verify(token) == CardClaims(card_number, KEY.key_id, issued_at)


def test_the_key_id_is_the_first_16_hex_digits_of_the_public_key_hash() -> None:
    assert KEY.key_id == key_id_for(KEY.public_key_bytes())
    assert len(KEY.public_key_bytes()) == 32
    assert all(c in "0123456789abcdef" for c in KEY.key_id)


def test_a_card_key_is_created_once_privately_and_then_loaded(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "cards" / "card-key.pem"
    created_key, created = load_or_create_card_key(path)
    loaded_key, created_again = load_or_create_card_key(path)
    assert (created, created_again) == (True, False)
    assert loaded_key.key_id == created_key.key_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert sorted(p.name for p in path.parent.iterdir()) == ["card-key.pem"]
    token = issue_token(new_card_number(), ISSUED_AT, created_key)
    assert CardKeyring.of(loaded_key).verify(token).key_id == created_key.key_id


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "card-key.pem"
    other = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError):
        load_or_create_card_key(path)


def test_new_card_numbers_are_grouped_checked_and_distinct() -> None:
    numbers = {new_card_number() for _ in range(1000)}
    assert len(numbers) == 1000
    for number in numbers:
        assert is_valid_card_number(number)
        prefix, *groups = number.split("-")
        assert prefix == "CC" and [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(CARD_ALPHABET)
    # 15 random symbols of 5 bits each; the 16th is the check.
    assert len(CARD_ALPHABET) == 32 and not set("ILOU") & set(CARD_ALPHABET)


def test_every_single_character_typo_in_a_card_number_is_caught() -> None:
    number = new_card_number()
    for index, original in enumerate(number):
        if original == "-" or index < 2:
            continue
        for replacement in set(CARD_ALPHABET) - {original}:
            assert not is_valid_card_number(number[:index] + replacement + number[index + 1 :])


def test_every_swap_of_two_different_card_number_characters_is_caught() -> None:
    number = new_card_number()
    symbols = [i for i, c in enumerate(number) if i >= 3 and c != "-"]
    for a in symbols:
        for b in symbols:
            if a < b and number[a] != number[b]:
                chars = list(number)
                chars[a], chars[b] = chars[b], chars[a]
                assert not is_valid_card_number("".join(chars))


def test_a_hand_typed_card_number_is_normalized_and_look_alikes_are_forgiven() -> None:
    number = new_card_number()
    sloppy = " " + number.lower().replace("-", " ").replace("0", "o").replace("1", "l") + " "
    assert normalize_card_number(sloppy) == number
    assert normalize_card_number(number[3:].replace("-", "")) == number
    with pytest.raises(ValueError):
        normalize_card_number(number[:-1] + ("0" if number[-1] != "0" else "1"))


def test_a_token_verified_once_still_refuses_every_altered_copy_of_it() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    keyring = CardKeyring.of(KEY)
    assert keyring.verify(token) == keyring.verify(token + "\r\n")  # the second answer is remembered
    for index in range(len(token)):
        altered = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        with pytest.raises(InvalidCardToken):
            keyring.verify(altered)


def test_a_key_replaced_under_its_id_is_checked_afresh_for_tokens_already_seen() -> None:
    token = issue_token(new_card_number(), ISSUED_AT, KEY)
    keyring = CardKeyring.of(KEY)
    keyring.verify(token)

    keyring.add(KEY.key_id, generate_card_key().public_key_bytes())

    assert _reason(keyring, token) == "signature"
