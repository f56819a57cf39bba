"""`clubcard kiosk` takes its device key from a private file or the environment, never from a shared file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from admin.commands.kiosk import kiosk
from kiosk.runtime import DeviceKeyProblem, read_device_key


def test_a_key_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    key_file = tmp_path / "device.key"
    key_file.write_text("secret\n")
    key_file.chmod(0o644)
    result = CliRunner().invoke(kiosk, ["--api", "http://127.0.0.1:9", "--device-key-file", str(key_file)])
    assert result.exit_code != 0
    assert f"chmod 600 {key_file}" in result.output


def test_a_private_key_file_is_read_without_its_newline(tmp_path: Path) -> None:
    key_file = tmp_path / "device.key"
    key_file.write_text("secret\n")
    key_file.chmod(0o600)
    assert read_device_key(None, key_file, environment={}) == "secret"


def test_the_key_can_come_from_the_environment() -> None:
    assert read_device_key(None, None, environment={"CLUBCARD_DEVICE_KEY": "from-env"}) == "from-env"


def test_without_any_key_the_kiosk_says_where_to_put_one() -> None:
    with pytest.raises(DeviceKeyProblem, match="CLUBCARD_DEVICE_KEY"):
        read_device_key(None, None, environment={})
