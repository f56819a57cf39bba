"""Card key files: rotation keeps every key that signed a card, and a running store notices it cheaply."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.cards.keys import CardKeyStore, load_card_keys, retired_directory, rotate_card_key
from ledger.cards.token import issue_token, load_or_create_card_key, new_card_number

ISSUED_AT = 1_767_225_600


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


def test_rotation_retires_the_old_key_privately_and_puts_a_new_one_in_its_place(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "card-ed25519.pem"
    first, _ = load_or_create_card_key(path)

    old, new = rotate_card_key(path)

    keys = load_card_keys(path, create_missing=False)
    assert old.key_id == first.key_id and new.key_id != first.key_id
    assert keys.current.key_id == new.key_id and set(keys.retired) == {first.key_id}
    for key_file in (path, retired_directory(path) / f"{first.key_id}.pem"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_after_two_rotations_tokens_of_all_three_keys_verify_and_each_key_can_re_sign_its_own_cards(
    tmp_path: Path,
) -> None:
    path = tmp_path / "card.pem"
    first, _ = load_or_create_card_key(path)
    _, second = rotate_card_key(path)
    _, third = rotate_card_key(path)

    keys = load_card_keys(path, create_missing=False)

    for key in (first, second, third):
        token = issue_token(new_card_number(), ISSUED_AT, key)
        assert keys.keyring.verify(token).key_id == key.key_id
        signing_key = keys.signing_key(key.key_id)
        assert signing_key is not None and signing_key.public_key_bytes() == key.public_key_bytes()
    assert keys.current.key_id == third.key_id
    assert keys.signing_key("0123456789abcdef") is None


def test_loading_without_permission_to_create_refuses_a_missing_key_and_creates_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys" / "card.pem"

    with pytest.raises(FileNotFoundError):
        load_card_keys(path, create_missing=False)

    assert not path.exists()


def test_a_running_store_switches_to_the_rotated_key_after_its_check_interval_not_on_every_call(
    tmp_path: Path,
) -> None:
    path = tmp_path / "card.pem"
    ticks = Ticks()
    store = CardKeyStore(path, load_card_keys(path, create_missing=True), monotonic=ticks)
    old = store.keys().current

    _, new = rotate_card_key(path)
    ticks.seconds += 0.5
    still = store.keys().current
    ticks.seconds += 0.6
    switched = store.keys()

    assert still.key_id == old.key_id
    assert switched.current.key_id == new.key_id
    assert old.key_id in switched.retired


def test_a_store_keeps_its_keys_when_the_key_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "card.pem"
    ticks = Ticks()
    store = CardKeyStore(path, load_card_keys(path, create_missing=True), monotonic=ticks)
    current = store.keys().current

    path.write_text("not a key")
    ticks.seconds += 2

    assert store.keys().current.key_id == current.key_id
