"""The background sync: refresh the caches, post queued offline spends, settle attempts that got no answer.

Every queued spend is posted under the key it was queued with, so a crash, a kill -9 or a retry during
sync makes the API replay rather than apply it again; a row becomes `synced` only once the API's answer is
stored. An online attempt that got no answer and was never settled at the counter (Try again) is settled
here: sent again under its key (the API replays it if it was applied) and then refunded, because the
counter never showed a receipt for it, so nothing was handed over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kiosk import outcomes
from kiosk.client import ApiProblem, ApiUnreachable
from kiosk.counter import RETRY_LATER_PROBLEMS, Counter
from kiosk.outbox import OutboxRow
from ledger.clock import parse_rfc3339, rfc3339

log = logging.getLogger("clubcard.kiosk")
DEFAULT_INTERVAL_SECONDS = 5.0
DEFAULT_CONCURRENCY = 4
SETTLE_AFTER = dt.timedelta(minutes=2)
BATCH_SIZE = 500
CHUNK_SIZE = 20  # one request and one API transaction: short enough not to hold wallets locked for long


@dataclasses.dataclass(frozen=True)
class SyncReport:
    """What one sync pass did."""

    online: bool
    synced: int = 0
    refused: int = 0
    settled: int = 0
    remaining: int = 0


class Syncer:
    """Runs sync passes every few seconds on a daemon thread (and on demand)."""

    def __init__(
        self,
        counter: Counter,
        *,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        concurrency: int = DEFAULT_CONCURRENCY,
        settle_after: dt.timedelta = SETTLE_AFTER,
    ) -> None:
        self.counter = counter
        self.interval_seconds = interval_seconds
        self.concurrency = concurrency
        self.settle_after = settle_after
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pass_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._loop, name="kiosk-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self) -> None:
        """Run a pass now (e.g. right after an offline spend was queued)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a bug must not stop the kiosk from syncing later
                log.exception("sync pass failed")
            self._wake.wait(self.interval_seconds)
            self._wake.clear()

    def run_once(self) -> SyncReport:
        """One pass: caches, queued offline spends, stale unanswered attempts."""
        with self._pass_lock:  # the thread and an on-demand pass never post the same row at once
            if not self.counter.refresh_caches():
                return SyncReport(online=False, remaining=self.counter.outbox.count("queued"))
            synced = refused = 0
            while True:
                rows = self.counter.outbox.rows("queued", kind="redeem", limit=BATCH_SIZE)
                if not rows:
                    break
                # A card's spends travel together, so concurrent chunks rarely wait on the same wallet.
                rows.sort(key=lambda row: (row.card_number or "", row.occurred_at, row.key))
                chunks = [rows[i : i + CHUNK_SIZE] for i in range(0, len(rows), CHUNK_SIZE)]
                with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                    results = [outcome for chunk in pool.map(self._sync_chunk, chunks) for outcome in chunk]
                synced += results.count("synced")
                refused += results.count("sync-refused")
                if "offline" in results or "later" in results:
                    break
            settled = sum(self._settle(row) for row in self._stale())
            remaining = self.counter.outbox.count("queued")
            return SyncReport(self.counter.online, synced, refused, settled, remaining)

    def _sync_chunk(self, rows: list[OutboxRow]) -> list[str]:
        """Post a chunk of queued spends in one request; mark each only once the API's answer is stored."""
        items = [
            {
                "idempotency_key": row.key,
                "card_token": row.card_token,
                "scheme": row.scheme,
                "amount_minor": row.amount_minor,
                "occurred_at": row.occurred_at,
            }
            for row in rows
        ]
        try:
            answers = self.counter.call(
                lambda: self.counter.client.offline_redemptions(items, key=self.counter.new_key())
            )
        except ApiUnreachable:
            return ["offline"]
        except ApiProblem as problem:
            if outcomes.problem_slug(problem.type) in RETRY_LATER_PROBLEMS:
                return ["later"]
            return [self._sync_one(row) for row in rows]  # a batch refused whole: find out item by item
        at = rfc3339(self.counter.now())
        return [self._record(answer, at) for answer in answers]

    def _record(self, answer: dict[str, Any], at: str) -> str:
        key = str(answer["idempotency_key"])
        if answer["status"] == 201:
            self.counter.outbox.update(key, state="synced", at=at, response=answer["result"])
            return "synced"
        slug = outcomes.problem_slug(str((answer.get("problem") or {}).get("type", "")))
        if slug in RETRY_LATER_PROBLEMS:
            return "later"
        # Refused for good (a forged or withdrawn key, a scheme no longer accepted): kept and flagged.
        self.counter.outbox.update(key, state="sync-refused", at=at, problem=slug)
        return "sync-refused"

    def _sync_one(self, row: OutboxRow) -> str:
        client, outbox = self.counter.client, self.counter.outbox
        assert row.card_token and row.scheme and row.amount_minor
        try:
            result = self.counter.call(
                lambda: client.offline_redemption(
                    token=str(row.card_token),
                    scheme=str(row.scheme),
                    amount_minor=int(row.amount_minor or 0),
                    occurred_at=row.occurred_at,
                    key=row.key,
                )
            )
        except ApiUnreachable:
            return "offline"
        except ApiProblem as problem:
            slug = outcomes.problem_slug(problem.type)
            if slug in RETRY_LATER_PROBLEMS:
                return "later"
            outbox.update(row.key, state="sync-refused", at=rfc3339(self.counter.now()), problem=slug)
            return "sync-refused"
        outbox.update(row.key, state="synced", at=rfc3339(self.counter.now()), response=result)
        return "synced"

    def _stale(self) -> list[OutboxRow]:
        cutoff = self.counter.now() - self.settle_after
        rows = self.counter.outbox.rows("pending", "unknown", kind="redeem", limit=BATCH_SIZE)
        return [row for row in rows if parse_rfc3339(row.occurred_at) <= cutoff]

    def _settle(self, row: OutboxRow) -> int:
        """Send an unanswered redemption again under its key, then refund it: no receipt was shown."""
        client, outbox, now = self.counter.client, self.counter.outbox, self.counter.now
        assert row.card_token and row.scheme and row.amount_minor
        try:
            receipt = self.counter.call(
                lambda: client.redeem(
                    token=str(row.card_token),
                    scheme=str(row.scheme),
                    amount_minor=int(row.amount_minor or 0),
                    key=row.key,
                )
            )
        except ApiUnreachable:
            return 0
        except ApiProblem as problem:
            slug = outcomes.problem_slug(problem.type)
            if slug not in RETRY_LATER_PROBLEMS:
                outbox.update(
                    row.key, state="refused", at=rfc3339(now()), problem=slug
                )  # it was never applied
            return 0
        try:
            undone = self.counter.call(
                lambda: client.refund(
                    str(receipt["transaction_id"]), key=f"{row.key}:undo", reason="no receipt shown"
                )
            )
        except (ApiUnreachable, ApiProblem):
            outbox.update(
                row.key, state="unknown", at=rfc3339(now()), response=receipt, problem="refund-failed"
            )
            return 0
        outbox.update(
            row.key, state="cancelled", at=rfc3339(now()), response={"redeemed": receipt, "refunded": undone}
        )
        return 1
