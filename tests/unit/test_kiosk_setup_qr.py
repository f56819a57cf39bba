"""`clubcard kiosk --setup-qr`: only a kiosk set-up code sets a kiosk up; anything else says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from admin.commands.kiosk import kiosk
from admin.web.pages.outlets import kiosk_configuration
from kiosk.qr_setup import SetupProblem, parse_setup, save_setup
from ledger.cards.render import qr_png


def test_a_cards_qr_code_is_refused_in_one_line_and_nothing_is_kept(tmp_path: Path) -> None:
    picture = tmp_path / "card.png"
    picture.write_bytes(qr_png("CC1.not-a-kiosk-code"))
    result = CliRunner().invoke(kiosk, ["--setup-qr", str(picture), "--data-dir", str(tmp_path / "kiosk")])
    assert result.exit_code == 1 and result.exception is not None and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "Error: this QR code is not a Clubcard kiosk set-up code (a card's code, perhaps)"
    ]
    assert not (tmp_path / "kiosk" / "device.key").exists()


def test_a_picture_that_is_no_picture_says_so(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    result = CliRunner().invoke(kiosk, ["--setup-qr", str(text), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "is not a picture this kiosk can read" in result.output


def test_without_an_api_address_or_a_set_up_code_the_kiosk_says_how_to_give_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(kiosk, ["--data-dir", str(tmp_path)], env={"CLUBCARD_DEVICE_KEY": "k"})
    assert result.exit_code == 2 and "--setup-qr IMAGE" in result.output


def test_the_device_key_pages_configuration_is_what_the_kiosk_reads() -> None:
    setup = parse_setup(kiosk_configuration("https://clubcard.example.gov.uk", "device-secret"))
    assert (setup.api_url, setup.device_key) == ("https://clubcard.example.gov.uk", "device-secret")


@pytest.mark.parametrize(
    "document",
    [
        {"clubcard_kiosk": 2, "api": "https://a.example", "device_key": "k"},
        {"clubcard_kiosk": 1, "api": "javascript:alert(1)", "device_key": "k"},
        {"clubcard_kiosk": 1, "api": "https://a.example", "device_key": ""},
        {"clubcard_kiosk": 1, "api": "https://a.example", "device_key": "k\n--api evil"},
        ["clubcard_kiosk", 1],
    ],
)
def test_a_code_that_is_not_a_whole_set_up_is_refused(document: object) -> None:
    with pytest.raises(SetupProblem):
        parse_setup(json.dumps(document))


def test_an_existing_key_file_is_made_private_when_the_kiosk_is_set_up_again(tmp_path: Path) -> None:
    old = tmp_path / "device.key"
    old.write_text("old")
    old.chmod(0o644)
    save_setup(parse_setup(kiosk_configuration("http://127.0.0.1:9", "new")), tmp_path)
    assert old.stat().st_mode & 0o777 == 0o600 and old.read_text() == "new\n"
