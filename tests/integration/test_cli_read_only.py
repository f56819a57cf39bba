"""Read-only commands never create keys: run from the wrong place they name the key file they expected.

Run through the real `clubcard` entry point on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clubcard.context import build_context
from ledger.errors import NotFound
from ledger.settings import Settings
from tests.support.cli import Cli, cli

__all__ = ["cli"]
READ_ONLY_COMMANDS = (
    ("audit", "verify"),
    ("audit", "check"),
    ("audit", "trial-balance"),
    ("audit", "seal"),
    ("keys", "list"),
    ("expire",),
)


def _files(directory: Path) -> set[Path]:
    return set(directory.rglob("*"))


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_read_only_command_run_from_another_directory_names_the_missing_key_and_creates_nothing(
    cli: Cli, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cli.environment(database_url=database_url)  # the database is found, the data directory is not

    result = cli(*command)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    expected = elsewhere / "var" / "keys" / "ledger-ed25519.pem"
    assert line.startswith(f"error: no ledger signing key at {expected}")
    assert "CLUBCARD_DATA_DIR" in line and "CLUBCARD_LEDGER_KEY" in line
    assert _files(elsewhere) == set()


def test_after_keys_create_made_the_keys_audit_verify_elsewhere_finds_them_through_the_data_directory(
    cli: Cli, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    cli.environment(data_directory=data, database_url=database_url)
    assert cli("keys", "create", "--role", "admin").exit_code == 0  # a key command may create keys
    key_files = {path: path.read_bytes() for path in (data / "keys").glob("*.pem")}
    assert {path.name for path in key_files} == {"ledger-ed25519.pem", "card-ed25519.pem"}
    assert cli("audit", "seal").exit_code == 0
    monkeypatch.chdir(tmp_path)

    verified = cli("audit", "verify")

    assert verified.exit_code == 0, verified.output
    assert "ok: every hash, root and signature verifies" in verified.stdout
    assert {path: path.read_bytes() for path in (data / "keys").glob("*.pem")} == key_files


def test_a_missing_card_key_is_named_too(cli: Cli, database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli.environment(data_directory=data, database_url=database_url)
    assert cli("keys", "create", "--role", "admin").exit_code == 0
    (data / "keys" / "card-ed25519.pem").unlink()

    result = cli("audit", "check")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: no card signing key at {data.absolute() / 'keys' / 'card-ed25519.pem'}"
    )
    assert "CLUBCARD_CARD_KEY" in result.stderr
    assert not (data / "keys" / "card-ed25519.pem").exists()


def test_build_context_creates_keys_only_when_asked(database_url: str, tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {"CLUBCARD_DATA_DIR": str(tmp_path / "data"), "CLUBCARD_DATABASE_URL": database_url}
    )

    with pytest.raises(NotFound):
        build_context(settings)
    assert not settings.ledger_key_path.exists() and not settings.card_key_path.exists()

    context = build_context(settings, create_missing_keys=True)
    context.engine.dispose()
    assert settings.ledger_key_path.is_file() and settings.card_key_path.is_file()
    reopened = build_context(settings)
    reopened.engine.dispose()
    assert reopened.ledger_key.key_id == context.ledger_key.key_id
