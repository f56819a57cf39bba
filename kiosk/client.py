"""The kiosk's client of the Clubcard API: httpx, with an injectable transport (tests run it in-process)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_TIMEOUT_SECONDS = 5.0
BATCH_TIMEOUT_SECONDS = 60.0
# 5xx answers that mean "not reachable right now", as a network cut does: the kiosk goes offline.
UNAVAILABLE_STATUSES = {502, 503, 504}


class ApiUnreachable(Exception):
    """The API could not be reached or gave no usable answer; `maybe_applied` unless it was never sent."""

    def __init__(self, message: str, *, maybe_applied: bool = True) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


@dataclasses.dataclass
class ApiProblem(Exception):
    """The API answered with an RFC 9457 problem: the request was refused and nothing was applied."""

    status: int
    type: str
    detail: str
    body: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.detail}"


class ApiClient:
    """Talks to /api/v1 as one device key; every write carries the caller's own Idempotency-Key."""

    def __init__(
        self,
        base_url: str,
        device_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout_seconds,
            headers={"Authorization": f"Bearer {device_key}", "Accept": "application/json"},
        )

    def close(self) -> None:
        """Let go of pooled connections."""
        self._http.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        key: str | None = None,
        timeout_seconds: float | None = None,
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": key} if key is not None else {}
        timeout = self._http.timeout if timeout_seconds is None else httpx.Timeout(timeout_seconds)
        try:
            response = self._http.request(method, path, json=json, headers=headers, timeout=timeout)
        except httpx.ConnectError as error:  # refused or no route: the request never left
            raise ApiUnreachable(f"{method} {path}: {error}", maybe_applied=False) from error
        except httpx.HTTPError as error:  # reset or timed out mid-request: it may have been applied
            raise ApiUnreachable(f"{method} {path}: {type(error).__name__}: {error}") from error
        if response.status_code in UNAVAILABLE_STATUSES:
            raise ApiUnreachable(f"{method} {path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise ApiUnreachable(f"{method} {path}: HTTP {response.status_code} without JSON") from error
        if response.is_success:
            return dict(body)
        raise ApiProblem(
            response.status_code, str(body.get("type", "")), str(body.get("detail", "")), dict(body)
        )

    def entitlements(self, token: str) -> dict[str, Any]:
        """What a scanned card may spend at this kiosk's outlet."""
        return self._send("GET", f"/api/v1/cards/{quote(token, safe='')}/entitlements")

    def entitlements_by_number(self, card_number: str) -> dict[str, Any]:
        """What a card typed by its printed number may spend here, with the card's token."""
        return self._send("GET", f"/api/v1/cards/by-number/{quote(card_number, safe='')}/entitlements")

    def redeem(self, *, token: str, scheme: str, amount_minor: int, key: str) -> dict[str, Any]:
        """Spend at this outlet; the receipt."""
        body = {"card_token": token, "scheme": scheme, "amount_minor": amount_minor}
        return self._send("POST", "/api/v1/redemptions", json=body, key=key)

    def refund(
        self, transaction_id: str, *, key: str, reason: str = "refunded at the counter"
    ) -> dict[str, Any]:
        """Reverse a redemption made here, within its window."""
        path = f"/api/v1/redemptions/{quote(transaction_id, safe='')}/refund"
        return self._send("POST", path, json={"reason": reason}, key=key)

    def hold(self, *, token: str, scheme: str, amount_minor: int, key: str) -> dict[str, Any]:
        """Reserve a spend until it is captured or voided."""
        body = {"card_token": token, "scheme": scheme, "amount_minor": amount_minor}
        return self._send("POST", "/api/v1/holds", json=body, key=key)

    def capture(self, hold_id: str, *, amount_minor: int, key: str) -> dict[str, Any]:
        """Take up to the held amount; the rest goes back to the card."""
        path = f"/api/v1/holds/{quote(hold_id, safe='')}/capture"
        return self._send("POST", path, json={"amount_minor": amount_minor}, key=key)

    def void(self, hold_id: str, *, key: str) -> dict[str, Any]:
        """Release a hold back to the card."""
        return self._send("POST", f"/api/v1/holds/{quote(hold_id, safe='')}/void", key=key)

    def offline_redemption(
        self, *, token: str, scheme: str, amount_minor: int, occurred_at: str, key: str
    ) -> dict[str, Any]:
        """Sync one spend accepted offline, under the key it was queued with."""
        body = {
            "card_token": token,
            "scheme": scheme,
            "amount_minor": amount_minor,
            "occurred_at": occurred_at,
        }
        return self._send("POST", "/api/v1/offline-redemptions", json=body, key=key)

    def offline_redemptions(self, items: list[dict[str, Any]], *, key: str) -> list[dict[str, Any]]:
        """Sync several queued spends at once; each item carries its own `idempotency_key`."""
        # A batch takes longer than one spend; nobody waits on it at the counter.
        path, body = "/api/v1/offline-redemptions/batch", {"redemptions": items}
        answer = self._send("POST", path, json=body, key=key, timeout_seconds=BATCH_TIMEOUT_SECONDS)
        return list(answer["results"])

    def offline_profile(self) -> dict[str, Any]:
        """This outlet and the schemes it accepts, with their offline floor limits."""
        return self._send("GET", "/api/v1/offline-profile")

    def card_keys(self) -> dict[str, Any]:
        """The public card keys, distrusted key ids and revoked cards, for offline checks."""
        return self._send("GET", "/.well-known/clubcard-keys")
