"""The counter's decisions: look a card up, spend, refund, hold; online through the API, offline by itself.

Online, every write is recorded in the outbox under its own idempotency key before it is sent. When the
API cannot be reached the kiosk checks the card itself (signature and revocation list from the cached
keys) and accepts up to the scheme's offline floor limit per card per day, queued under the same key.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any, TypeVar

from kiosk import outcomes
from kiosk.client import ApiClient, ApiProblem, ApiUnreachable
from kiosk.outbox import Outbox, OutboxRow
from kiosk.outcomes import Outcome
from kiosk.screens import CardView, ReceiptView, local_time, offline_card, online_card, remaining
from kiosk.verifier import CardRevoked, OfflineVerifier
from ledger.cards.token import InvalidCardToken, normalize_card_number
from ledger.clock import parse_rfc3339, rfc3339
from ledger.units import format_amount

T = TypeVar("T")
KEYS_CACHE = "card-keys"
PROFILE_CACHE = "offline-profile"
IDENTITY_CACHE = "identity"
# Answers that mean "the same key is still being worked on or was used differently": ask again later.
RETRY_LATER_PROBLEMS = {"idempotency-conflict", "idempotency-mismatch", "retry"}


def utc_now() -> dt.datetime:
    """The wall clock, in UTC."""
    return dt.datetime.now(dt.UTC)


class Counter:
    """One kiosk at one outlet: its API client, its outbox, and whether the API answered last time."""

    def __init__(
        self,
        client: ApiClient,
        outbox: Outbox,
        *,
        zone: str = "Europe/London",
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.zone = zoneinfo.ZoneInfo(zone)
        self.now = now
        self.online = True  # until a request fails; the sync loop finds out when the API is back
        self._verifier: tuple[str, OfflineVerifier] | None = None
        self._lock = threading.Lock()
        self.kiosk_id = self._identity()

    def _identity(self) -> str:
        found = self.outbox.cached(IDENTITY_CACHE)
        if found is not None:
            return str(found[0]["kiosk_id"])
        kiosk_id = uuid.uuid4().hex[:12]
        self.outbox.save_cache(IDENTITY_CACHE, {"kiosk_id": kiosk_id}, rfc3339(self.now()))
        return kiosk_id

    def new_key(self) -> str:
        """A fresh idempotency key for one attempt at the counter (stored with the form, reused on retry)."""
        return f"kiosk-{self.kiosk_id}:{uuid.uuid4()}"

    def local_day(self, moment: dt.datetime | None = None) -> str:
        """The council's calendar day of a moment (offline limits are per day, the council's day)."""
        return (moment or self.now()).astimezone(self.zone).date().isoformat()

    def call(self, request: Callable[[], T]) -> T:
        """Run one API request, noting whether the API answered (a refusal is still an answer)."""
        try:
            result = request()
        except ApiUnreachable:
            self.online = False
            raise
        except ApiProblem:
            self.online = True
            raise
        self.online = True
        return result

    def refresh_caches(self) -> bool:
        """Fetch the card keys and the outlet's offline profile; True when the API answered."""
        try:
            keys = self.call(self.client.card_keys)
            profile = self.call(self.client.offline_profile)
        except (ApiUnreachable, ApiProblem):
            return False
        at = rfc3339(self.now())
        self.outbox.save_cache(KEYS_CACHE, keys, at)  # replaced whole: a distrusted key leaves at once
        self.outbox.save_cache(PROFILE_CACHE, profile, at)
        return True

    def verifier(self) -> OfflineVerifier:
        """The offline verifier for the cached keys document (rebuilt when the cache changes)."""
        found = self.outbox.cached(KEYS_CACHE)
        fetched = found[1] if found else ""
        with self._lock:
            if self._verifier is None or self._verifier[0] != fetched:
                self._verifier = (fetched, OfflineVerifier(found[0] if found else None))
            return self._verifier[1]

    def profile(self) -> dict[str, Any] | None:
        """The cached outlet profile (name, schemes and their offline floor limits)."""
        found = self.outbox.cached(PROFILE_CACHE)
        return None if found is None else found[0]

    def outlet_name(self) -> str:
        """This kiosk's outlet, for the page header."""
        profile = self.profile()
        return str(profile["outlet_name"]) if profile else "Clubcard kiosk"

    def scan(self, token: str) -> CardView | Outcome:
        """What a scanned (or scanner-typed) token may spend here."""
        token = token.strip()
        if self.online:
            try:
                return online_card(
                    self.call(lambda: self.client.entitlements(token)), token, self.now(), self.zone
                )
            except ApiProblem as problem:
                return outcomes.for_problem(problem.type)
            except ApiUnreachable:
                pass
        return self._scan_offline(token)

    def _scan_offline(self, token: str) -> CardView | Outcome:
        verifier, profile = self.verifier(), self.profile()
        if not verifier.has_keys or profile is None:
            return outcomes.NOT_READY_OFFLINE
        try:
            claims = verifier.verify(token)
        except InvalidCardToken:
            return outcomes.NOT_A_CLUBCARD
        except CardRevoked:
            return outcomes.BLOCKED
        day = self.local_day()
        taken = {
            item["scheme"]: self.outbox.taken_offline(claims.card_number, item["scheme"], day)
            for item in profile.get("schemes", ())
        }
        card = offline_card(claims.card_number, token, profile, taken)
        return card if card.schemes else outcomes.NOTHING_OFFLINE_HERE

    def look_up_number(self, typed: str) -> CardView | Outcome:
        """What a card typed by its printed number may spend here (online only: a number has no signature)."""
        try:
            number = normalize_card_number(typed[:64])
        except ValueError:
            return outcomes.NUMBER_TYPO
        if not self.online:
            return outcomes.TYPED_NUMBER_OFFLINE
        try:
            body = self.call(lambda: self.client.entitlements_by_number(number))
        except ApiProblem as problem:
            return outcomes.for_problem(problem.type)
        except ApiUnreachable:
            return outcomes.TYPED_NUMBER_OFFLINE
        return online_card(body, str(body["card_token"]), self.now(), self.zone)

    def scheme_info(self, slug: str) -> dict[str, Any] | None:
        """A scheme accepted here, from the cached profile."""
        for item in (self.profile() or {}).get("schemes", ()):
            if item["scheme"] == slug:
                return dict(item)
        return None

    def receipt(self, key: str) -> ReceiptView | None:
        """The receipt of a request made at this kiosk."""
        row = self.outbox.get(key)
        if row is None or row.state not in {"done", "queued", "synced", "sync-refused"}:
            return None
        outcome = outcomes.ACCEPTED_OFFLINE if row.offline else outcomes.ACCEPTED
        return self.receipt_view(row, outcome)

    def receipt_view(self, row: OutboxRow, outcome: Outcome) -> ReceiptView:
        """A receipt from a stored request."""
        unit = row.unit or "GBP"
        response = row.response or {}
        here, in_scheme = remaining(response, unit) if not row.offline else (None, None)
        info = self.scheme_info(row.scheme or "") or {}
        reference = str(response.get("transaction_id") or row.key.rsplit(":", 1)[-1][:8])
        refunded = self.outbox.resolved_targets("refund")
        return ReceiptView(
            outcome=outcome,
            key=row.key,
            kind=row.kind,
            scheme_name=str(info.get("name", row.scheme or "")),
            amount=format_amount(int(row.amount_minor or 0), unit),
            card_number=row.card_number or "",
            at=local_time(parse_rfc3339(row.occurred_at), self.zone),
            reference=reference,
            online=not row.offline,
            remaining_here=here,
            remaining_in_scheme=in_scheme,
            hold_id=response.get("hold_id") if row.kind == "hold" else None,
            hold_amount_minor=row.amount_minor if row.kind == "hold" else None,
            unit=unit,
            refundable=row.kind == "redeem"
            and row.state == "done"
            and str(response.get("transaction_id")) not in refunded,
        )
