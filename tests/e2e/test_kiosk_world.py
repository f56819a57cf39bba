"""The world the kiosk browser tests run in: a real API server (stoppable), a real kiosk process (killable),
a council with cards, and a fake camera fed with a card's QR code (no tests of its own here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Playwright
from werkzeug.serving import BaseWSGIServer, make_server

from ledger.cards.render import qr_png
from ledger.clock import FixedClock
from tests.e2e.browser import CHROMIUM_ARGUMENTS, CHROMIUM_PATH, browser_required
from tests.support.api import World

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
LEISURE = {
    "spending": {
        "outlet_categories": ["leisure-centre"],
        "per_day_limit_minor": 1000,
        "offline_floor_limit_minor": 500,
        "refund_window_days": 14,
    },
    "expiry": {"days_after_issue": 91},
}
RELEASE = {
    "spending": {
        "outlet_categories": ["accommodation", "work-clothes"],
        "purpose_categories": {"accommodation": ["accommodation"], "work-clothes": ["work-clothes"]},
    }
}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_y4m(png: bytes, path: Path, width: int = 640, height: int = 480, frames: int = 20) -> Path:
    """A Y4M video (4:2:0, grey) of the PNG centred on white: what Chromium's fake camera plays in a loop."""
    picture = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 80
    picture = picture.resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", (width, height), 255)
    frame.paste(picture, ((width - side) // 2, (height - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def _wait_for(url_port: int, path: str = "/healthz") -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {url_port}")


class ApiServer:
    """The real API app served over HTTP from a thread, so a test can cut it off and bring it back."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self._server: BaseWSGIServer | None = None
        self.offline_syncs = 0
        self._count_lock = threading.Lock()
        # Called after the API applied the n-th offline sync request (one spend or a batch), before its
        # answer leaves.
        self.after_offline_sync: Callable[[int], None] | None = None

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = list(self.app(environ, start_response))
        if (
            environ["PATH_INFO"].startswith("/api/v1/offline-redemptions")
            and environ["REQUEST_METHOD"] == "POST"
        ):
            with self._count_lock:
                self.offline_syncs += 1
                count = self.offline_syncs
            if self.after_offline_sync is not None:
                self.after_offline_sync(count)
        return body

    @property
    def url(self) -> str:
        """Where the kiosk finds the API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again) on the same port."""
        self._server = make_server("127.0.0.1", self.port, self._serve, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        _wait_for(self.port)

    def stop(self) -> None:
        """Stop answering: the kiosk's requests are refused, as in a network cut."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def launch_chromium_with(playwright: Playwright, extra_arguments: Sequence[str]) -> Browser:
    """Debian's Chromium with extra switches (a fake camera); fails rather than skips when required."""
    if not CHROMIUM_PATH.exists():
        message = f"browser tests need Debian's chromium at {CHROMIUM_PATH}"
        if browser_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    arguments = [*CHROMIUM_ARGUMENTS, *extra_arguments]
    return playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=arguments)


class KioskProcess:
    """`clubcard kiosk` as a real process (so it can be killed with SIGKILL and started again)."""

    def __init__(self, api_url: str, key_file: Path, data_directory: Path) -> None:
        self.api_url = api_url
        self.key_file = key_file
        self.data_directory = data_directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_directory.parent / "kiosk.log"

    @property
    def url(self) -> str:
        """The counter screen."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the kiosk and wait until it answers."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CLUBCARD_")}
        arguments = ["--api", self.api_url, "--device-key-file", str(self.key_file), "--port", str(self.port)]
        arguments += ["--data-dir", str(self.data_directory), "--sync-interval", "0.3"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "admin.cli", "kiosk", *arguments],
                cwd=REPOSITORY,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for(self.port)

    def kill(self, how: int = signal.SIGKILL) -> None:
        """Stop the kiosk process (SIGKILL by default: no chance to tidy up)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, how)
            process.wait(timeout=30)

    def status(self) -> dict[str, Any]:
        """The kiosk's /status.json."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        connection.request("GET", "/status.json")
        return dict(json.loads(connection.getresponse().read()))

    def wait_until(self, predicate: Any, timeout_seconds: float = 30) -> dict[str, Any]:
        """Poll the status until `predicate(status)` holds."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            status = self.status()
            if predicate(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"the kiosk never got there: {self.status()}")


@dataclasses.dataclass
class Card:
    """A demo card: its number, QR token and owner."""

    number: str
    token: str
    resident_id: str


@dataclasses.dataclass
class CounterWorld:
    """A council, an API server, a pool with a kiosk, and cards."""

    world: World
    api: ApiServer
    kiosk: KioskProcess
    leisure: dict[str, Any]
    outlet_id: str
    teen: Card
    blocked: Card
    release: Card
    low: Card
    tmp_path: Path

    def wallet(self, card: Card) -> int:
        """A card's leisure balance."""
        return self.world.wallet(card.resident_id, self.leisure)

    def payable(self) -> int:
        """What the pool is owed."""
        return self.world.payable(self.outlet_id)

    def camera_video(self, card: Card) -> Path:
        """A fake camera video showing this card's QR code."""
        return write_y4m(qr_png(card.token), self.tmp_path / f"{card.number}.y4m")


def _card(world: World, schemes: tuple[dict[str, Any], ...]) -> Card:
    resident = world.resident(schemes)
    number, token = world.card(resident)
    return Card(number, token, resident)


@pytest.fixture
def counter_world(tmp_path: Path) -> Iterator[CounterWorld]:
    """The API serving a fresh SQLite council, and a kiosk for the pool started against it."""
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    world = World.on(f"sqlite:///{tmp_path / 'clubcard.sqlite3'}", tmp_path / "api", clock=clock)
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=100_000)
    release = world.scheme("release", "GBP", RELEASE, funded=100_000)
    outlet_id, device = world.outlet(
        ["leisure-centre", "work-clothes"], ["leisure", "release"], name="Riverside Pool"
    )
    teen, blocked, release_card = _card(world, (leisure,)), _card(world, (leisure,)), _card(world, (release,))
    low = _card(world, (leisure,))
    world.issue(leisure, low.resident_id, 200)
    world.issue(leisure, teen.resident_id, 1500, expires_at=clock.now() + dt.timedelta(days=20))
    world.issue(leisure, blocked.resident_id, 1500)
    world.issue(release, release_card.resident_id, 3000, category="accommodation")
    world.block(blocked.number)
    key_file = tmp_path / "device.key"
    key_file.write_text(device)
    key_file.chmod(0o600)
    api = ApiServer(world.app)
    api.start()
    kiosk = KioskProcess(api.url, key_file, tmp_path / "kiosk")
    kiosk.start()
    try:
        yield CounterWorld(world, api, kiosk, leisure, outlet_id, teen, blocked, release_card, low, tmp_path)
    finally:
        kiosk.kill(signal.SIGTERM)
        api.stop()
        world.close()
