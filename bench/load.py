"""Load drivers for the benchmarks: client threads in this process, or keep-alive HTTP/1.1 connections.

The HTTP clients are keep-alive HTTP/1.1 connections driven by one asyncio thread with pre-built request
bytes (each with its own Idempotency-Key), reading status and Content-Length: on a 2-core machine the load
generator shares the CPU with gunicorn and PostgreSQL, and a thread with http.client per connection cost
twice its CPU per request (0.2 ms against 0.1 ms), which an in-process measurement never pays.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

RESPONSE_TIMEOUT_SECONDS = 30


def drive(clients: int, seconds: float, one_request: Callable[[int, int], None]) -> dict[str, float]:
    """Run `clients` threads calling one_request(client, n) for `seconds`; rate and latency percentiles."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        mine: list[float] = []
        count = 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            one_request(number, count)
            mine.append(time.perf_counter() - started)
            count += 1
        with lock:
            latencies.extend(mine)

    began = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _figures(latencies, time.monotonic() - began)


def _figures(latencies: list[float], elapsed: float) -> dict[str, float]:
    """Requests per second and p50/p99 latency in milliseconds."""
    latencies.sort()
    return {
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "count": len(latencies),
    }


def http_drive(port: int, clients: int, seconds: float, seeded: dict[str, Any], run: str) -> dict[str, float]:
    """`clients` keep-alive HTTP/1.1 connections driven by one asyncio loop; the figures drive() gives.

    One thread with pre-built request bytes costs the server's two cores far less than a thread and an
    http.client per connection did, so the figure is the server's, not the load generator's."""
    return asyncio.run(_http_clients(port, clients, seconds, seeded, run))


async def _http_clients(
    port: int, clients: int, seconds: float, seeded: dict[str, Any], run: str
) -> dict[str, float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    began = time.monotonic()
    bodies = [
        json.dumps({"card_token": token, "amount_minor": 1, "scheme": "bench"}).encode()
        for token in seeded["tokens"]
    ]
    head = _request_head(port, seeded["device"])
    await asyncio.gather(
        *(_http_client(port, number, stop, (head, bodies), run, latencies) for number in range(clients))
    )
    return _figures(latencies, time.monotonic() - began)


async def _http_client(
    port: int, client: int, stop: float, request: tuple[bytes, list[bytes]], run: str, latencies: list[float]
) -> None:
    """One kiosk: POST one 1p redemption at a time, each with its own Idempotency-Key; every answer 201."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head, bodies = request
    count = 0
    try:
        while time.monotonic() < stop:
            body = bodies[(client * 7919 + count) % len(bodies)]
            key = f"{run}-{client}-{count}".encode()
            started = time.perf_counter()
            writer.write(head % (key, len(body)) + body)
            status, payload = await asyncio.wait_for(_read_response(reader), RESPONSE_TIMEOUT_SECONDS)
            latencies.append(time.perf_counter() - started)
            if status != 201:
                raise RuntimeError(f"redemption failed: {status} {payload[:200]!r}")
            count += 1
    finally:
        writer.close()


def _request_head(port: int, device_secret: str) -> bytes:
    """The request line and headers, with holes for the Idempotency-Key and the Content-Length."""
    return (
        b"POST /api/v1/redemptions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
        + b"Authorization: Bearer "
        + device_secret.encode().replace(b"%", b"%%")
        + b"\r\nIdempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    )


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (the server always sends Content-Length for these)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)
