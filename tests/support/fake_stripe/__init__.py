"""A small fake Stripe API on 127.0.0.1 that the official `stripe` library talks to, as it talks to Stripe.

Only the endpoints we call exist (each resource adds its routes: `checkout.py`, `transfers.py`). Like Stripe
it checks the secret key, decodes form-encoded bodies into nested parameters, answers errors as
`{"error": {...}}`, and honours Idempotency-Key: the same key with the same parameters replays the first
answer (`Idempotent-Replayed: true`), with other parameters it is a 400 `idempotency_error`. Every request
is recorded so a test can check what we sent. Webhooks are signed for real with
`stripe.WebhookSignature.generate_signature_header` (`signed_event`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

API_KEY = "sk_test_clubcard_fake"
WEBHOOK_SECRET = "whsec_clubcard_fake"
Handler = Callable[["FakeStripe", "StripeRequest", re.Match[str]], tuple[int, dict[str, Any]]]


class StripeError(Exception):
    """Raised by a route to answer as Stripe does: a status and an error object."""

    def __init__(self, status: int, error_type: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": error_type, "message": message, **({"code": code} if code else {})}}


@dataclasses.dataclass(frozen=True)
class StripeRequest:
    """One request the library sent: method, path, query, decoded parameters and headers."""

    method: str
    path: str
    query: dict[str, Any]
    params: dict[str, Any]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        """The Idempotency-Key header, if any."""
        return self.headers.get("idempotency-key")


def nested_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=1`) as nested dicts; list indexes become dict keys "0", "1"."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = result
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return result


class FakeStripe:
    """The fake API: routes, stored objects, the request log, and idempotent replays."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.objects: dict[str, dict[str, Any]] = {}  # by id, every object any route created
        self.requests: list[StripeRequest] = []
        self.replays: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = {}
        self.lock = threading.RLock()
        self._counter = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Where the library should send requests (CLUBCARD_STRIPE_API_BASE)."""
        assert self.server is not None, "the fake Stripe is not running"
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer `method` on paths matching `pattern` (a regular expression over the whole path)."""
        self.routes.append((method, re.compile(pattern + r"\Z"), handler))

    def new_id(self, prefix: str) -> str:
        """An id shaped like Stripe's: `cs_test_...`, `tr_...`."""
        return f"{prefix}_{next(self._counter):06d}{secrets.token_hex(6)}"

    def sent(self, method: str, path_prefix: str) -> list[StripeRequest]:
        """The requests we sent to paths starting with `path_prefix` (replays included)."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def handle(self, request: StripeRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Authenticate, replay or route one request; returns status, body and extra headers."""
        with self.lock:
            self.requests.append(request)
            if request.headers.get("authorization") != f"Bearer {API_KEY}":
                return 401, StripeError(401, "invalid_request_error", "Invalid API Key provided").body, {}
            key = request.idempotency_key if request.method == "POST" else None
            if key is not None and key in self.replays:
                params, status, body = self.replays[key]
                if params != request.params:
                    error = StripeError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        "first used with.",
                    )
                    return error.status, error.body, {}
                return status, body, {"Idempotent-Replayed": "true"}
            status, body = self._route(request)
            if key is not None and status < 500:
                self.replays[key] = (request.params, status, body)
            return status, body, {}

    def _route(self, request: StripeRequest) -> tuple[int, dict[str, Any]]:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                try:
                    return handler(self, request, match)
                except StripeError as error:
                    return error.status, error.body
        error = StripeError(404, "invalid_request_error", f"Unrecognized request URL ({request.path})")
        return error.status, error.body

    def start(self) -> None:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                request = StripeRequest(
                    method=self.command,
                    path=split.path,
                    query=nested_params(parse_qsl(split.query)),
                    params=nested_params(parse_qsl(body, keep_blank_values=True)),
                    headers={name.lower(): value for name, value in self.headers.items()},
                )
                status, answer, extra = fake.handle(request)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.send_header("Request-Id", fake.new_id("req"))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def signed_event(
    event_type: str,
    data_object: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers, signed as Stripe signs them (`Stripe-Signature`)."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if timestamp is None else timestamp,
        "livemode": False,
        "type": event_type,
        "data": {"object": data_object},
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A running fake Stripe with every resource's routes; point the app at it with `stripe_settings`."""
    from tests.support.fake_stripe.routes import add_all_routes

    fake = FakeStripe()
    add_all_routes(fake)
    fake.start()
    yield fake
    fake.stop()


def stripe_settings(fake: FakeStripe) -> dict[str, str]:
    """create_app test_config entries that point the app's Stripe client at `fake`."""
    return {
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLUBCARD_STRIPE_API_BASE": fake.url,
    }
