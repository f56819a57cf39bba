"""The kiosk's local SQLite outbox: every write it asks for, under its own idempotency key, and its caches.

A row is written (and fsynced: WAL with synchronous=FULL) before the request leaves the kiosk, so a retry
after a lost answer, a crash or a kill -9 sends the same key again and the API applies it at most once.
Offline spends wait here as `queued` until the background sync posts them; the cached card keys and
outlet profile live here too, so a kiosk restarted offline still has its queue and its cache.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OUTBOX_FILE_NAME = "kiosk-outbox.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- redeem, hold, capture, void, refund
    -- pending, done, refused, queued, synced, sync-refused, unknown, cancelled
    state TEXT NOT NULL,
    offline INTEGER NOT NULL DEFAULT 0,
    card_token TEXT,
    card_number TEXT,
    scheme TEXT,
    unit TEXT,
    amount_minor INTEGER,
    target_id TEXT,                  -- the redemption refunded, or the hold captured or voided
    occurred_at TEXT NOT NULL,
    local_day TEXT NOT NULL,
    response_json TEXT,
    problem TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_state ON requests (state, occurred_at);
CREATE INDEX IF NOT EXISTS requests_by_card_day ON requests (card_number, scheme, local_day);
CREATE TABLE IF NOT EXISTS cache (name TEXT PRIMARY KEY, body_json TEXT NOT NULL, fetched_at TEXT NOT NULL);
"""
OFFLINE_ACCEPTED_STATES = ("queued", "synced", "sync-refused")


@dataclasses.dataclass(frozen=True)
class OutboxRow:
    """One request the kiosk made or queued."""

    key: str
    kind: str
    state: str
    offline: bool
    card_token: str | None
    card_number: str | None
    scheme: str | None
    unit: str | None
    amount_minor: int | None
    target_id: str | None
    occurred_at: str
    local_day: str
    response: dict[str, Any] | None
    problem: str | None
    attempts: int

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxRow:
        """From a `requests` row."""
        data = dict(row)
        response = data.pop("response_json")
        data.pop("updated_at")
        return cls(
            **{
                **data,
                "offline": bool(data["offline"]),
                "response": json.loads(response) if response else None,
            }
        )


class Outbox:
    """The outbox file under the kiosk's data directory; safe to share between the web and sync threads."""

    def __init__(self, data_directory: Path) -> None:
        data_directory.mkdir(parents=True, exist_ok=True)
        self.path = data_directory / OUTBOX_FILE_NAME
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        # FULL: every commit is fsynced to the WAL before it returns, so a queued spend survives power loss.
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def record(
        self, *, key: str, kind: str, state: str, occurred_at: str, local_day: str, **fields: Any
    ) -> bool:
        """Store a new request before it is sent; False (and nothing changed) if the key is already known."""
        columns: dict[str, Any] = {
            "key": key,
            "kind": kind,
            "state": state,
            "occurred_at": occurred_at,
            "local_day": local_day,
        }
        columns.update(fields)
        columns["offline"] = int(bool(columns.get("offline", False)))
        columns["updated_at"] = occurred_at
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        with self._transaction() as connection:
            cursor = connection.execute(
                f"INSERT OR IGNORE INTO requests ({names}) VALUES ({marks})", tuple(columns.values())
            )
            return cursor.rowcount == 1

    def update(
        self,
        key: str,
        *,
        state: str,
        at: str,
        response: dict[str, Any] | None = None,
        problem: str | None = None,
        offline: bool | None = None,
        counted_attempt: bool = False,
    ) -> None:
        """Move a request to a new state, keeping what the API answered."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE requests SET state = ?, updated_at = ?, "
                "response_json = COALESCE(?, response_json), problem = ?, "
                "offline = COALESCE(?, offline), attempts = attempts + ? WHERE key = ?",
                (
                    state,
                    at,
                    None if response is None else json.dumps(response),
                    problem,
                    None if offline is None else int(offline),
                    int(counted_attempt),
                    key,
                ),
            )

    def get(self, key: str) -> OutboxRow | None:
        """The request stored under a key."""
        with self._lock:
            row = self._connection.execute("SELECT * FROM requests WHERE key = ?", (key,)).fetchone()
        return None if row is None else OutboxRow.from_row(row)

    def rows(self, *states: str, kind: str | None = None, limit: int = 1000) -> list[OutboxRow]:
        """Requests in these states, oldest first."""
        marks = ", ".join("?" for _ in states)
        query = f"SELECT * FROM requests WHERE state IN ({marks})"
        parameters: list[Any] = list(states)
        if kind is not None:
            query += " AND kind = ?"
            parameters.append(kind)
        query += " ORDER BY occurred_at, key LIMIT ?"
        with self._lock:
            found = self._connection.execute(query, (*parameters, limit)).fetchall()
        return [OutboxRow.from_row(row) for row in found]

    def latest(self, kind: str, *states: str) -> OutboxRow | None:
        """The newest request of a kind in these states."""
        marks = ", ".join("?" for _ in states)
        with self._lock:
            row = self._connection.execute(
                f"SELECT * FROM requests WHERE kind = ? AND state IN ({marks}) "
                "ORDER BY occurred_at DESC, key DESC LIMIT 1",
                (kind, *states),
            ).fetchone()
        return None if row is None else OutboxRow.from_row(row)

    def resolved_targets(self, *kinds: str) -> set[str]:
        """Ids already refunded, captured or voided (or being), so the screen stops offering them."""
        marks = ", ".join("?" for _ in kinds)
        with self._lock:
            found = self._connection.execute(
                f"SELECT target_id FROM requests WHERE kind IN ({marks}) "
                "AND state IN ('pending', 'done', 'unknown')",
                kinds,
            ).fetchall()
        return {row[0] for row in found}

    def taken_offline(self, card_number: str, scheme: str, local_day: str) -> int:
        """What this kiosk accepted offline for a card in a scheme on a council day."""
        marks = ", ".join("?" for _ in OFFLINE_ACCEPTED_STATES)
        with self._lock:
            total = self._connection.execute(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM requests WHERE offline = 1 AND card_number = ? "
                f"AND scheme = ? AND local_day = ? AND state IN ({marks})",
                (card_number, scheme, local_day, *OFFLINE_ACCEPTED_STATES),
            ).fetchone()[0]
        return int(total)

    def count(self, *states: str) -> int:
        """How many requests are in these states."""
        marks = ", ".join("?" for _ in states)
        with self._lock:
            found = self._connection.execute(
                f"SELECT COUNT(*) FROM requests WHERE state IN ({marks})", states
            )
            return int(found.fetchone()[0])

    def save_cache(self, name: str, body: dict[str, Any], at: str) -> None:
        """Replace a cached document whole (card keys, outlet profile)."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO cache (name, body_json, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET "
                "body_json = excluded.body_json, fetched_at = excluded.fetched_at",
                (name, json.dumps(body), at),
            )

    def cached(self, name: str) -> tuple[dict[str, Any], str] | None:
        """A cached document and when it was fetched."""
        with self._lock:
            row = self._connection.execute(
                "SELECT body_json, fetched_at FROM cache WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else (json.loads(row[0]), str(row[1]))

    def queue_offline(self, *, key: str, floor_minor: int, at: str, **fields: Any) -> bool:
        """Queue a spend accepted offline if the card stays within the floor today; checked and written at
        once, so two counters' tabs cannot both squeeze under the limit. A pending row keeps its key."""
        marks = ", ".join("?" for _ in OFFLINE_ACCEPTED_STATES)
        with self._transaction() as connection:
            taken = connection.execute(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM requests WHERE offline = 1 AND card_number = ? "
                f"AND scheme = ? AND local_day = ? AND state IN ({marks}) AND key != ?",
                (fields["card_number"], fields["scheme"], fields["local_day"], *OFFLINE_ACCEPTED_STATES, key),
            ).fetchone()[0]
            if int(taken) + int(fields["amount_minor"]) > floor_minor:
                return False
            columns = {"key": key, "kind": "redeem", "state": "queued", "offline": 1, "updated_at": at}
            columns.update(fields)
            names = ", ".join(columns)
            marks_in = ", ".join("?" for _ in columns)
            connection.execute(
                f"INSERT INTO requests ({names}) VALUES ({marks_in}) ON CONFLICT (key) DO UPDATE SET "
                "state = 'queued', offline = 1, updated_at = excluded.updated_at",
                tuple(columns.values()),
            )
            return True
