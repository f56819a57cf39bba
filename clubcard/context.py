"""The composition root: the database, the clock, the ledger and card keys, built once per process."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from ledger.cards.keys import CardKeySet, CardKeyStore
from ledger.cards.token import CardKeyring, CardSigningKey
from ledger.clock import Clock, SystemClock
from ledger.db.bootstrap import open_database
from ledger.db.uow import SqlUnitOfWork, unit_of_work_factory
from ledger.errors import NotFound
from ledger.service import read_only, run_in_transaction
from ledger.settings import Settings
from ledger.signing import SigningKey, load_or_create_key

T = TypeVar("T")
log = logging.getLogger("clubcard")


@dataclasses.dataclass
class LedgerContext:
    """The running service's resources, built once by create_app or a CLI command."""

    settings: Settings
    engine: Engine
    uow_factory: Callable[..., SqlUnitOfWork]
    clock: Clock
    ledger_key: SigningKey
    card_key_store: CardKeyStore

    @property
    def card_keys(self) -> CardKeySet:
        """The card keys now: a rotation on disk shows here within a second, with no restart."""
        return self.card_key_store.keys()

    @property
    def card_key(self) -> CardSigningKey:
        """The key that signs new cards."""
        return self.card_keys.current

    @property
    def keyring(self) -> CardKeyring:
        """Public card keys that verify tokens: the current key and every retired one."""
        return self.card_keys.keyring

    def write(self, operation: Callable[[Any], T]) -> T:
        """Run a use case in one transaction, retried on a retryable conflict."""
        return run_in_transaction(self.uow_factory, operation)

    def read(self, operation: Callable[[Any], T]) -> T:
        """Run a read on one consistent snapshot."""
        return read_only(self.uow_factory, operation)


def build_context(
    settings: Settings, clock: Clock | None = None, *, create_missing_keys: bool = False
) -> LedgerContext:
    """Load the keys and open (and migrate) the database.

    Only the server and the key commands pass ``create_missing_keys``: a command that merely reads, run
    from the wrong directory, must stop and say which key it expected, not sign with a brand-new key.
    """
    if not create_missing_keys:
        # Checked before the database is opened, so a wrong directory leaves no new SQLite file behind.
        _require_key_files(settings)
    settings.data_directory.mkdir(parents=True, exist_ok=True)
    ledger_key, created = load_or_create_key(settings.ledger_key_path)
    if created:
        log.warning("created a new ledger signing key at %s: back it up", settings.ledger_key_path)
    card_key_store = CardKeyStore.open(settings.card_key_path, create_missing=create_missing_keys)
    engine = open_database(settings.database_url)
    clock = clock or SystemClock(settings.time_zone)  # the council's days, weeks and months
    return LedgerContext(settings, engine, unit_of_work_factory(engine), clock, ledger_key, card_key_store)


def _require_key_files(settings: Settings) -> None:
    """Raise NotFound naming the first missing key file and how to point at the right one."""
    expected = (
        ("ledger signing key", settings.ledger_key_path, "CLUBCARD_LEDGER_KEY"),
        ("card signing key", settings.card_key_path, "CLUBCARD_CARD_KEY"),
    )
    for name, path, variable in expected:
        if not path.is_file():
            raise NotFound(
                f"no {name} at {_shown(path)}: run this where the data directory is, or set "
                f"CLUBCARD_DATA_DIR (or {variable}) to point at it "
                "(`clubcard serve` creates them on a first run)"
            )


def _shown(path: Path) -> str:
    """A path as the operator should read it: absolute, so a wrong working directory is obvious."""
    return str(path.absolute())
