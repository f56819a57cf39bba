"""The composition root: the database, the clock, the ledger and card keys, built once per process."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine

from ledger.cards.token import CardKeyring, CardSigningKey, load_or_create_card_key
from ledger.clock import Clock, SystemClock
from ledger.db.bootstrap import open_database
from ledger.db.uow import SqlUnitOfWork, unit_of_work_factory
from ledger.service import read_only, run_in_transaction
from ledger.settings import Settings
from ledger.signing import SigningKey, load_or_create_key

T = TypeVar("T")
log = logging.getLogger("clubcard")


@dataclasses.dataclass
class LedgerContext:
    """The running service's resources, built once by create_app."""

    settings: Settings
    engine: Engine
    uow_factory: Callable[..., SqlUnitOfWork]
    clock: Clock
    ledger_key: SigningKey
    card_key: CardSigningKey
    keyring: CardKeyring

    def write(self, operation: Callable[[Any], T]) -> T:
        """Run a use case in one transaction, retried on a retryable conflict."""
        return run_in_transaction(self.uow_factory, operation)

    def read(self, operation: Callable[[Any], T]) -> T:
        """Run a read on one consistent snapshot."""
        return read_only(self.uow_factory, operation)


def build_context(settings: Settings, clock: Clock | None = None) -> LedgerContext:
    """Open (and migrate) the database and load or create the keys."""
    settings.data_directory.mkdir(parents=True, exist_ok=True)
    engine = open_database(settings.database_url)
    ledger_key, created = load_or_create_key(settings.ledger_key_path)
    if created:
        log.warning("created a new ledger signing key at %s: back it up", settings.ledger_key_path)
    card_key, created = load_or_create_card_key(settings.card_key_path)
    if created:
        log.warning("created a new card signing key at %s: back it up", settings.card_key_path)
    keyring = CardKeyring({card_key.key_id: card_key.public_key_bytes()})
    for retired in retired_card_keys(settings):
        keyring.add(retired.key_id, retired.public_key_bytes())
    return LedgerContext(
        settings, engine, unit_of_work_factory(engine), clock or SystemClock(), ledger_key, card_key, keyring
    )


def retired_card_keys(settings: Settings) -> list[CardSigningKey]:
    """Card keys rotated out: they no longer sign, but cards they signed still verify."""
    directory = settings.card_key_path.parent / "card-retired"
    if not directory.is_dir():
        return []
    return [load_or_create_card_key(path)[0] for path in sorted(directory.glob("*.pem"))]
