"""Savepoints inside a unit of work: one batch-mate's refusal is undone without touching the others."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DBAPIError

from ledger.db.engine import translate


@contextmanager
def savepoint(uow: Any) -> Iterator[None]:
    """Run the block in a SAVEPOINT of the unit of work's transaction; roll back to it on any error."""
    nested = uow.connection.begin_nested()
    try:
        yield
    except DBAPIError as error:
        nested.rollback()
        translated = translate(error)
        if translated is error:
            raise
        raise translated from error
    except BaseException:
        nested.rollback()
        raise
    nested.commit()  # RELEASE SAVEPOINT: the work stays in the outer transaction until it commits
