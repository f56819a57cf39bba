"""`clubcard audit head`, `audit verify --trusted-head/--since-trusted-head` and `trial-balance --at`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from admin.cli import cli
from tests.integration.conftest import Books
from tests.integration.tamper_support import behind_the_ledgers_back, cut_the_newest_checkpoint, sealed_books
from tests.support.api import ApiDriver


def clubcard(database_url: str, data_directory: Path, *arguments: str) -> Result:
    """Run the `clubcard` command on the test database and data directory."""
    environment = {"CLUBCARD_DATABASE_URL": database_url, "CLUBCARD_DATA_DIR": str(data_directory)}
    return CliRunner().invoke(cli, list(arguments), env=environment)


@pytest.fixture
def sealed(api: ApiDriver) -> Books:
    """Books sealed with the ledger key the commands load."""
    books = Books(api.context.engine)
    sealed_books(books, api.context.ledger_key)
    return books


def test_audit_head_prints_the_same_json_as_the_well_known_ledger_head(
    api: ApiDriver, sealed: Books, database_url: str, tmp_path: Path
) -> None:
    result = clubcard(database_url, tmp_path, "audit", "head")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == api.call("GET", "/.well-known/clubcard-ledger").json


def test_audit_head_before_anything_is_sealed_says_so_in_one_line(
    api: ApiDriver, database_url: str, tmp_path: Path
) -> None:
    result = clubcard(database_url, tmp_path, "audit", "head")

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: nothing has been sealed yet: run `clubcard audit seal` first"


@pytest.mark.parametrize("option", ["--trusted-head", "--since-trusted-head"])
def test_verify_against_a_saved_head_fails_naming_the_cut_that_plain_verify_misses(
    sealed: Books, database_url: str, tmp_path: Path, option: str
) -> None:
    saved = tmp_path / "head.json"
    saved.write_text(clubcard(database_url, tmp_path, "audit", "head").stdout)
    assert clubcard(database_url, tmp_path, "audit", "verify", option, str(saved)).exit_code == 0
    behind_the_ledgers_back(sealed.engine, cut_the_newest_checkpoint(sealed))

    plain = clubcard(database_url, tmp_path, "audit", "verify")
    against_the_head = clubcard(database_url, tmp_path, "audit", "verify", option, str(saved))

    assert plain.exit_code == 0, plain.output
    assert against_the_head.exit_code == 1
    assert "the trusted head had 302: the log was cut" in against_the_head.stderr
    assert "Traceback" not in against_the_head.output


def test_verify_against_a_saved_head_says_the_log_extends_it(
    sealed: Books, database_url: str, tmp_path: Path
) -> None:
    saved = tmp_path / "head.json"
    saved.write_text(clubcard(database_url, tmp_path, "audit", "head").stdout)

    result = clubcard(database_url, tmp_path, "audit", "verify", "--since-trusted-head", str(saved))

    assert result.exit_code == 0, result.output
    assert "ok: the log extends the trusted head of 302 transactions" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "is not JSON; save one with `clubcard audit head >"),
        ('{"tree_size": -1}', "is not a signed tree head: tree_size must be a whole number"),
        ('{"tree_size": 3, "root_hash": "zz"}', "is not a signed tree head: root_hash must be 64"),
        (None, "cannot read"),
    ],
)
def test_a_trusted_head_file_that_is_not_a_head_is_a_usage_error_in_one_line(
    api: ApiDriver, database_url: str, tmp_path: Path, content: str | None, expected: str
) -> None:
    saved = tmp_path / "head.json"
    if content is not None:
        saved.write_text(content)

    result = clubcard(database_url, tmp_path, "audit", "verify", "--trusted-head", str(saved))

    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_trusted_head_and_since_trusted_head_together_are_a_usage_error(
    sealed: Books, database_url: str, tmp_path: Path
) -> None:
    saved = tmp_path / "head.json"
    saved.write_text(clubcard(database_url, tmp_path, "audit", "head").stdout)

    result = clubcard(
        database_url,
        tmp_path,
        "audit",
        "verify",
        "--trusted-head",
        str(saved),
        "--since-trusted-head",
        str(saved),
    )

    assert result.exit_code == 2
    assert "give --trusted-head or --since-trusted-head, not both" in result.stderr


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00+14:00"])
def test_trial_balance_at_something_that_is_not_an_instant_is_one_clear_line_and_exit_2(
    api: ApiDriver, database_url: str, tmp_path: Path, at: str
) -> None:
    result = clubcard(database_url, tmp_path, "audit", "trial-balance", "--at", at)

    assert result.exit_code == 2
    assert "--at takes an RFC 3339 instant such as 2026-11-30T17:00:00Z" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_trial_balance_at_an_instant_prints_the_balances_then(
    sealed: Books, database_url: str, tmp_path: Path
) -> None:
    result = clubcard(database_url, tmp_path, "audit", "trial-balance", "--at", "2026-11-30T17:00:00Z")

    assert result.exit_code == 0, result.output
    assert "total GBP: 0" in result.stdout
