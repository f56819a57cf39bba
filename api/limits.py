"""Rate limits on card look-ups: one budget per key (never per IP) across every endpoint that takes a card.

The counters live in Redis when CLUBCARD_REDIS_URL is set, so every worker process draws from the same
budget. Without Redis they live in the process's memory, which is shared only by that process's threads:
right for `clubcard serve` as it ships (one gunicorn worker, 32 threads), wrong for several workers, so
`clubcard serve --workers N` refuses to start without Redis, and a card look-up served by one of several
worker processes without Redis is refused (503) rather than allowed through a per-worker budget.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

DEFAULT_CARD_LOOKUP_LIMIT = "120 per minute"  # a kiosk scans a card every few seconds at most
CARD_LOOKUP_SCOPE = "card-lookup"  # the one bucket all card look-ups of a key draw from
CARD_LOOKUP_MARK = "card_lookup_scope"  # the attribute card_lookup() sets on each view it guards
MEMORY_STORAGE = "memory://"
UNSHARED_STORAGE_ADVICE = (
    "card look-up limits must be shared by every worker process: set CLUBCARD_REDIS_URL "
    "(e.g. redis://127.0.0.1:6379/0) or run a single worker"
)
View = TypeVar("View", bound=Callable[..., Any])


def card_lookup_limit() -> str:
    """The per-key card look-up limit: CLUBCARD_CARD_LOOKUP_LIMIT (flask-limiter syntax) or the default."""
    return str(current_app.config.get("CLUBCARD_CARD_LOOKUP_LIMIT") or DEFAULT_CARD_LOOKUP_LIMIT)


limiter = Limiter(key_func=lambda: _caller(), default_limits=[], headers_enabled=True)
# The REST API's blueprints (names), which carry no flask-limiter limits: their one budget is drawn by
# card_lookup() itself, so flask-limiter's hooks are skipped for their requests (see _rest_request).
REST_BLUEPRINTS = "clubcard_rest_blueprints"


@limiter.request_filter
def _rest_request() -> bool:
    """A request to the REST API, exempt from flask-limiter's per-request limit resolution.

    Resolving limits walks every blueprint exemption with enum flags: ~0.1 ms of a worker's CPU for each
    API request, all to find no limit. The staff and resident pages keep flask-limiter's limits."""
    return request.blueprint in current_app.extensions.get(REST_BLUEPRINTS, ())


def _caller() -> str:
    # Limits run before the view, so authenticate here; the view itself answers 401 for no key.
    from api.auth import current_principal
    from api.problems import ApiProblem

    try:
        return f"key:{current_principal().key_id}"
    except ApiProblem:
        return "anonymous"


def card_lookup(exempt_when: Callable[[], bool] | None = None) -> Callable[[View], View]:
    """Decorate a view that takes a card: it draws from the caller's one card look-up budget."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if limiter.enabled and not (exempt_when and exempt_when()):
                _draw_card_lookup()
            _refuse_unshared_storage()
            return view(*args, **kwargs)

        setattr(guarded, CARD_LOOKUP_MARK, CARD_LOOKUP_SCOPE)  # read by the test that finds every budget
        return guarded  # type: ignore[return-value]

    return decorate


def _draw_card_lookup() -> None:
    """One hit on the caller's card look-up budget, on flask-limiter's own storage, in one round trip.

    flask-limiter's per-request machinery (limit resolution, two checks, the context) cost a kiosk
    redemption ~0.4 ms of the worker's CPU, and its hit and window statistics are three calls to the
    storage: on Redis, three blocking round trips from a worker of 32 threads, ~3 ms of its CPU. This
    draws the same fixed-window counter (the key FixedWindowRateLimiter uses, so every worker shares one
    Redis budget) with one INCR, whose count gives what remains, and knows when the window ends (see
    _window_ends). The headers and the 429 are as before."""
    item = _parsed_limit(card_lookup_limit())
    storage_key = item.key_for(_caller(), CARD_LOOKUP_SCOPE)
    storage = limiter.limiter.storage
    count = storage.incr(storage_key, item.get_expiry())
    window_ends = _window_ends(storage, storage_key, count, item)
    g.card_lookup_limit = (item, max(0, item.amount - count), window_ends)
    if count > item.amount:
        raise TooManyRequests(description=str(item))


MAX_WINDOWS_REMEMBERED = 10_000  # keys (one per kiosk or staff key) whose window end this process knows
_window_end_of: dict[str, float] = {}


def _window_ends(storage: Any, storage_key: str, count: int, item: RateLimitItem) -> float:
    """When the budget's current fixed window ends (epoch seconds): the draw that opened the window knows
    (now + the window), and this process remembers it; a window another worker opened is asked of the
    storage once."""
    now = time.time()
    if count == 1:  # this draw opened the window (the storage set its expiry with this INCR)
        ends = now + item.get_expiry()
    else:
        remembered = _window_end_of.get(storage_key)
        if remembered is not None and remembered > now:
            return remembered
        ends = storage.get_expiry(storage_key)
    if len(_window_end_of) >= MAX_WINDOWS_REMEMBERED:
        _window_end_of.clear()  # a bound, not a cache policy: each key is asked again once at most
    _window_end_of[storage_key] = ends
    return ends


@functools.lru_cache(maxsize=64)
def _parsed_limit(text: str) -> RateLimitItem:
    """A limit string parsed once (a handful of distinct strings ever: the setting and tests' own)."""
    return parse_limit(text)


def _card_lookup_headers(response: Response) -> Response:
    """X-RateLimit-Limit, -Remaining, -Reset and Retry-After on every response that drew on the budget,
    as flask-limiter sends them (a 429's Retry-After is at least the 60 s the problem handler set)."""
    drawn: tuple[RateLimitItem, int, float] | None = g.pop("card_lookup_limit", None)
    if drawn is None:
        return response
    item, remaining, window_ends = drawn
    reset_at = int(window_ends + 1)
    now = time.time()
    if response.headers.get("Retry-After", "").isdigit():
        reset_at = max(int(now + int(response.headers["Retry-After"])), reset_at)
    response.headers.add("X-RateLimit-Limit", str(item.amount))
    response.headers.add("X-RateLimit-Remaining", str(remaining))
    response.headers.add("X-RateLimit-Reset", str(reset_at))
    response.headers["Retry-After"] = str(int(reset_at - now))
    return response


def _refuse_unshared_storage() -> None:
    """Several worker processes with counters in memory would give each its own budget: refuse instead."""
    from api.problems import ApiProblem

    several_processes = bool(request.environ.get("wsgi.multiprocess"))
    if several_processes and str(current_app.config["RATELIMIT_STORAGE_URI"]).startswith(MEMORY_STORAGE):
        raise ApiProblem(503, "rate-limit-storage-not-shared", UNSHARED_STORAGE_ADVICE)


def unshared_storage_problem(workers: int, redis_url: str | None) -> str | None:
    """Why `workers` worker processes cannot run without shared counters, or None when they can."""
    if workers > 1 and not redis_url:
        return f"--workers {workers} needs Redis: {UNSHARED_STORAGE_ADVICE}"
    return None


def init_limiter(app: Flask) -> None:
    """Attach the limiter, with Redis as storage when CLUBCARD_REDIS_URL is set."""
    redis_url = app.extensions["clubcard"].settings.redis_url
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or MEMORY_STORAGE)
    app.config.setdefault("CLUBCARD_CARD_LOOKUP_LIMIT", os.environ.get("CLUBCARD_CARD_LOOKUP_LIMIT"))
    # The limiter is one object shared by every app in the process and init_app only defaults "enabled"
    # to its last value: say it each time, or one app made with limits off turns them off for the next.
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STRATEGY", "fixed-window")  # the counter _draw_card_lookup draws
    limiter.init_app(app)
    assert isinstance(limiter.limiter, FixedWindowRateLimiter), "card look-ups draw a fixed window"
    app.after_request(_card_lookup_headers)
