"""`clubcard serve` tells people where the resident page is and which demo card to try it with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from admin.demo_resident import print_demo_resident


def test_the_resident_page_url_and_a_time_bank_members_card_and_date_of_birth_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "demo-keys.json"
    cards = {
        "Ada Teen": {"number": "CC-AAAA", "date_of_birth": "2010-03-04", "schemes": ["leisure-vouchers"]},
        "Bo Member": {"number": "CC-BBBB", "date_of_birth": "1975-01-15", "schemes": ["time-bank"]},
    }
    keys.write_text(json.dumps({"keys": {}, "cards": cards}))

    print_demo_resident(keys, "http://127.0.0.1:8000")

    printed = capsys.readouterr().out
    assert "Resident page: http://127.0.0.1:8000/my" in printed
    assert "CC-BBBB" in printed and "15 1 1975" in printed and "CC-AAAA" not in printed


def test_only_the_url_is_printed_when_no_demo_card_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "demo-keys.json"
    keys.write_text(json.dumps({"keys": {}, "cards": {}}))

    print_demo_resident(keys, "http://127.0.0.1:8000")

    assert capsys.readouterr().out.strip() == "Resident page: http://127.0.0.1:8000/my"
