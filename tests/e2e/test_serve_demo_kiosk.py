"""`clubcard serve --kiosk` as a new user meets it: the printed kiosk URL answers, the printed demo card is
read by the kiosk's camera in a real Chromium, and a spend of it is taken and refunded."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, Playwright, expect

from tests.e2e.servers import RunningServer, clean_environment, free_port, running_server
from tests.e2e.test_kiosk_counter import FAKE_CAMERA
from tests.e2e.test_kiosk_world import _wait_for, launch_chromium_with, write_y4m

KIOSK_PORT_OFFSET = 100  # `clubcard serve --kiosk` puts the demo kiosk on the API's port + 100
DEMO_OUTLET = "Riverside Leisure Centre"
STATUS_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DemoKiosk:
    """A running `clubcard serve --kiosk`: what it printed, its data directory, the kiosk's URL."""

    server: RunningServer
    data_directory: Path
    kiosk_url: str


def _free_port_pair() -> int:
    """A port that is free, with port + 100 free too."""
    while True:
        port = free_port()
        if port + KIOSK_PORT_OFFSET > 65535:
            continue
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port + KIOSK_PORT_OFFSET))
        except OSError:
            continue
        return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoKiosk]:
    """`clubcard serve --kiosk` on an empty data directory, exactly as the README starts the demo."""
    data_directory = tmp_path_factory.mktemp("demo-kiosk")
    port = _free_port_pair()
    with running_server(
        ["-m", "admin.cli", "serve", "--port", str(port), "--kiosk"],
        port=port,
        environment=clean_environment(CLUBCARD_DATA_DIR=str(data_directory)),
        log_path=data_directory / "serve.log",
    ) as server:
        _wait_for(port + KIOSK_PORT_OFFSET)
        _wait_until_online(port + KIOSK_PORT_OFFSET)
        yield DemoKiosk(server, data_directory, f"http://127.0.0.1:{port + KIOSK_PORT_OFFSET}/")


def _wait_until_online(port: int) -> None:
    """The demo kiosk may start before the API listens: wait until a sync pass has reached it."""
    deadline = time.monotonic() + STATUS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/status.json")
        if json.loads(connection.getresponse().read())["online"]:
            return
        time.sleep(0.25)
    raise AssertionError("the demo kiosk never reached the API")


def test_serve_with_kiosk_prints_the_kiosk_url_the_demo_card_and_its_number(demo: DemoKiosk) -> None:
    output = demo.server.log()
    teen = json.loads((demo.data_directory / "demo-keys.json").read_text())["cards"]["Amara Teen"]
    picture = demo.data_directory / "demo-card.png"
    assert f"Kiosk for {DEMO_OUTLET}: {demo.kiosk_url}" in output
    assert f"Demo card to scan (Amara Teen): {picture}" in output
    assert f"Show it to the camera, or type its number: {teen['number']}" in output
    [decoded] = zxingcpp.read_barcodes(Image.open(picture).convert("L"))
    assert decoded.text == teen["token"]


@pytest.fixture
def camera_on_the_demo_card(demo: DemoKiosk, playwright: Playwright) -> Iterator[Page]:
    """A Chromium whose fake camera shows the demo card the serve command printed."""
    video = write_y4m((demo.data_directory / "demo-card.png").read_bytes(), demo.data_directory / "card.y4m")
    chromium = launch_chromium_with(playwright, [*FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])
    try:
        yield chromium.new_context(permissions=["camera"]).new_page()
    finally:
        chromium.close()


@pytest.mark.browser
def test_the_printed_demo_card_is_scanned_spent_and_refunded_at_the_demo_kiosk(
    demo: DemoKiosk, camera_on_the_demo_card: Page
) -> None:
    page = camera_on_the_demo_card
    page.goto(demo.kiosk_url)
    expect(page.locator("header, body").first).to_contain_text(DEMO_OUTLET)
    page.get_by_role("button", name="Start the camera").click()
    expect(page.locator("h1")).to_have_text("What this card can spend here", timeout=20_000)
    page.fill("#amount-leisure-vouchers", "2.50")
    voucher = page.locator("section[aria-labelledby='scheme-leisure-vouchers']")
    voucher.get_by_role("button", name="Take payment").click()
    expect(page.locator("h1")).to_have_text("Accepted")
    expect(page.locator("[data-receipt-amount]")).to_have_text("£2.50")
    page.get_by_role("button", name="Refund this spend").click()
    expect(page.locator(".kiosk-receipt")).to_contain_text("Refunded")
