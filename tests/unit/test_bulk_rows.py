"""The ids a bulk chunk makes for its rows, and the COPY types of the tables it writes."""

from __future__ import annotations

import uuid

from ledger.db.bulk_copy import copy_types
from ledger.db.bulk_repository import BULK_TABLES, JOURNAL_TABLES
from ledger.db.tables import metadata
from ledger.usecases.bulk_rows import new_ids


def test_new_ids_are_distinct_version_4_uuids_in_canonical_text() -> None:
    ids = new_ids(5_000)
    assert len(set(ids)) == 5_000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_new_ids_of_none_is_empty() -> None:
    assert new_ids(0) == []


def test_every_column_a_bulk_write_can_name_has_a_copy_type() -> None:
    for table_name in sorted(BULK_TABLES | JOURNAL_TABLES):
        columns = tuple(metadata.tables[table_name].c.keys())
        types = copy_types(table_name, columns)
        assert len(types) == len(columns)
    assert copy_types("postings", ("line", "amount_minor", "recorded_at", "unit")) == [
        "int2",
        "int8",
        "timestamptz",
        "varchar",
    ]
