"""Putting one kiosk together: its API client, outbox, counter, background sync and web app."""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from pathlib import Path

import httpx
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from kiosk.app import create_kiosk_app
from kiosk.client import ApiClient
from kiosk.counter import Counter
from kiosk.outbox import Outbox
from kiosk.sync import DEFAULT_INTERVAL_SECONDS, Syncer

DEVICE_KEY_VARIABLE = "CLUBCARD_DEVICE_KEY"
KIOSK_HOST = "127.0.0.1"  # the counter screen is for this machine's browser only


class DeviceKeyProblem(ValueError):
    """The device key is missing, or its file is readable by others."""


@dataclasses.dataclass
class Kiosk:
    """A running kiosk's parts."""

    app: Flask
    counter: Counter
    syncer: Syncer
    outbox: Outbox

    def close(self) -> None:
        """Stop syncing and close the outbox."""
        self.syncer.stop()
        self.counter.client.close()
        self.outbox.close()


def read_device_key(key: str | None, key_file: Path | None, environment: dict[str, str] | None = None) -> str:
    """The device key from --device-key-file (mode 0600 only), --device-key, or CLUBCARD_DEVICE_KEY."""
    if key_file is not None:
        mode = key_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DeviceKeyProblem(
                f"{key_file} can be read by other users: run chmod 600 {key_file} and start the kiosk again"
            )
        key = key_file.read_text().strip()
    if not key:
        key = (environment if environment is not None else dict(os.environ)).get(DEVICE_KEY_VARIABLE, "")
    if not key.strip():
        raise DeviceKeyProblem(
            f"give the kiosk's device key: --device-key-file FILE (mode 600) or {DEVICE_KEY_VARIABLE}"
        )
    return key.strip()


def build_kiosk(
    api_url: str,
    device_key: str,
    data_directory: Path,
    *,
    transport: httpx.BaseTransport | None = None,
    zone: str = "Europe/London",
    sync_interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
    timeout_seconds: float = 5.0,
) -> Kiosk:
    """A kiosk talking to `api_url` as `device_key`, keeping its outbox under `data_directory`."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the log
    outbox = Outbox(data_directory)
    client = ApiClient(api_url, device_key, transport=transport, timeout_seconds=timeout_seconds)
    counter = Counter(client, outbox, zone=zone)
    syncer = Syncer(counter, interval_seconds=sync_interval_seconds)
    return Kiosk(create_kiosk_app(counter, syncer), counter, syncer, outbox)


def serve_kiosk(kiosk: Kiosk, port: int) -> BaseWSGIServer:
    """A threaded HTTP server for the counter screen on 127.0.0.1 (call serve_forever on it)."""
    return make_server(KIOSK_HOST, port, kiosk.app, threaded=True)
