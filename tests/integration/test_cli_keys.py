"""`clubcard keys`: every mistake an operator makes is one clear line and a non-zero exit, never a traceback.

Run through the real entry point on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ledger.db.engine import make_engine
from ledger.db.uow import unit_of_work_factory
from ledger.service import run_in_transaction
from ledger.usecases.api_keys import hash_secret
from ledger.usecases.common import new_id
from tests.support.cli import Cli, CliResult, cli

__all__ = ["cli"]


@pytest.fixture
def operator(cli: Cli, database_url: str, tmp_path: Path) -> Cli:
    """The command pointed at a fresh database and data directory, with its first admin key made."""
    cli.environment(data_directory=tmp_path / "data", database_url=database_url)
    assert cli("keys", "create", "--role", "admin").exit_code == 0
    return cli


def _add_outlet(database_url: str, name: str) -> str:
    outlet_id = new_id()
    engine = make_engine(database_url)
    run_in_transaction(
        unit_of_work_factory(engine),
        lambda uow: uow.registry.add_outlet(
            id=outlet_id, name=name, categories=["library"], schemes=[], now=dt.datetime.now(dt.UTC)
        ),
    )
    engine.dispose()
    return outlet_id


def _one_error_line(result: CliResult, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_a_device_key_without_an_outlet_is_refused_naming_the_flag_and_the_outlets(
    operator: Cli, database_url: str
) -> None:
    outlet_id = _add_outlet(database_url, "Central Library")

    refused = operator("keys", "create", "--role", "device")

    _one_error_line(refused, "a device key needs --outlet ID", outlet_id, "Central Library")


def test_a_device_key_before_any_outlet_exists_says_how_to_make_one(operator: Cli) -> None:
    refused = operator("keys", "create", "--role", "device")

    _one_error_line(refused, "--outlet ID", "there are no outlets yet")


def test_a_device_key_for_an_unknown_outlet_is_refused_and_lists_the_real_ones(
    operator: Cli, database_url: str
) -> None:
    outlet_id = _add_outlet(database_url, "Riverside Pool")

    refused = operator("keys", "create", "--role", "device", "--outlet", "no-such-outlet")

    _one_error_line(refused, "no outlet no-such-outlet", outlet_id, "Riverside Pool")


def test_a_staff_key_bound_to_an_outlet_is_refused(operator: Cli, database_url: str) -> None:
    outlet_id = _add_outlet(database_url, "Riverside Pool")

    refused = operator("keys", "create", "--role", "auditor", "--outlet", outlet_id)

    _one_error_line(refused, "only a device key takes --outlet", "an auditor key")


def test_a_device_key_for_a_real_outlet_is_created_and_shown_once(operator: Cli, database_url: str) -> None:
    outlet_id = _add_outlet(database_url, "Riverside Pool")

    created = operator("keys", "create", "--role", "device", "--outlet", outlet_id, "--label", "till 1")

    assert created.exit_code == 0, created.output
    assert created.stdout.splitlines()[-1].startswith("cc_dev_")


def test_revoking_an_unknown_key_or_a_revoked_one_is_one_line_each(operator: Cli) -> None:
    created = operator("keys", "create", "--role", "finance")
    key_id = created.stdout.split()[2]

    _one_error_line(operator("keys", "revoke", "no-such-key"), "no API key no-such-key", "clubcard keys list")
    assert operator("keys", "revoke", key_id).exit_code == 0
    _one_error_line(operator("keys", "revoke", key_id), f"API key {key_id} was already revoked")


def test_keys_list_shows_every_key_and_never_a_secret_or_its_hash(operator: Cli, database_url: str) -> None:
    outlet_id = _add_outlet(database_url, "Riverside Pool")
    kiosk = operator("keys", "create", "--role", "device", "--outlet", outlet_id, "--label", "till 1")
    auditor = operator("keys", "create", "--role", "auditor", "--label", "external audit")
    kiosk_id, kiosk_secret = kiosk.stdout.split()[2], kiosk.stdout.splitlines()[-1]
    auditor_id, auditor_secret = auditor.stdout.split()[2], auditor.stdout.splitlines()[-1]
    assert operator("keys", "revoke", auditor_id).exit_code == 0

    listed = operator("keys", "list")

    assert listed.exit_code == 0, listed.output
    header, *lines = listed.stdout.splitlines()
    revoked_at = header.index("revoked")
    rows = {line.split()[0]: line for line in lines}
    assert len(rows) == 3  # the first admin key, the kiosk and the auditor
    assert rows[kiosk_id].split()[1:3] == ["device", outlet_id] and rows[kiosk_id].endswith("till 1")
    assert rows[auditor_id].split()[1:3] == ["auditor", "-"] and rows[auditor_id].endswith("external audit")
    assert rows[kiosk_id][revoked_at:].split()[0] == "-"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", rows[auditor_id][revoked_at:].split()[0])  # revoked on a day
    for secret in (kiosk_secret, auditor_secret):
        assert secret not in listed.output and hash_secret(secret) not in listed.output
        assert secret[:10] not in listed.output
