"""A kiosk set up from the QR code the staff UI shows with a new device key: zxing-cpp reads the picture the
page offers, the kiosk keeps the key in a private file, and the kiosk so configured redeems a card."""

from __future__ import annotations

import base64
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from kiosk.qr_setup import read_setup_qr, save_setup, saved_api_url, saved_key_file
from kiosk.runtime import build_kiosk, read_device_key
from kiosk.screens import CardView, ReceiptView
from kiosk.spending import Spend, spend
from ledger.usecases import flows
from tests.integration.value_support import LEISURE
from tests.support.api import World
from tests.support.staff_web import StaffWeb, page_text, staff_web_fixture  # noqa: F401

SETUP_PICTURE = re.compile(r'id="kiosk-setup-png" href="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture
def served(staff_web: StaffWeb) -> Iterator[str]:
    """The same app over real HTTP on 127.0.0.1, and the staff browser talking to it by that address."""
    server = make_server("127.0.0.1", 0, staff_web.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"127.0.0.1:{server.server_port}"
    # The page puts the address it was asked on into the QR code: the test browser asks on this one.
    staff_web.app.config["SERVER_NAME"] = address
    try:
        yield f"http://{address}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _setup_picture(staff_web: StaffWeb, tmp_path: Path) -> Path:
    registered = staff_web.post_form(
        "/admin/outlets/new",
        {"name": "Riverside Pool", "categories": "leisure-centre", "schemes": ["leisure"]},
    )
    assert registered.status_code == 302, page_text(registered)
    outlet_id = registered.headers["Location"].rsplit("/", 1)[-1]
    created = staff_web.post_form(f"/admin/outlets/{outlet_id}/devices/new", {"label": "front desk"})
    found = SETUP_PICTURE.search(created.get_data(as_text=True))
    assert found is not None, "the device key page offers its QR code as a picture"
    picture = tmp_path / "clubcard-kiosk-setup.png"
    picture.write_bytes(base64.b64decode(found.group(1)))
    return picture


def test_a_kiosk_set_up_from_the_device_keys_qr_picture_redeems_a_card(
    staff_web: StaffWeb, served: str, tmp_path: Path
) -> None:
    world = World(staff_web.app, staff_web.clock)
    leisure = world.scheme("leisure", "GBP", LEISURE, funded=10_000)
    resident = world.resident((leisure,))
    number, token = world.card(resident)
    world.run(
        lambda uow: flows.issue(
            uow,
            scheme=leisure,
            owner_id=resident,
            amount_minor=1500,
            now=world.clock.now(),
            actor="t",
            key="i",
        )
    )
    staff_web.sign_in("admin")

    setup = read_setup_qr(_setup_picture(staff_web, tmp_path))
    kiosk_directory = tmp_path / "kiosk"
    key_file = save_setup(setup, kiosk_directory)

    assert setup.api_url == served
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The next start needs neither --api nor the key: both were kept.
    api_url, kept = saved_api_url(kiosk_directory), saved_key_file(kiosk_directory)
    assert api_url == served and kept == key_file
    running = build_kiosk(api_url, read_device_key(None, kept, environment={}), kiosk_directory)
    try:
        card = running.counter.scan(token)
        assert isinstance(card, CardView) and [s.scheme for s in card.schemes] == ["leisure"]
        receipt = spend(running.counter, Spend("first", token, number, "leisure", "GBP", 450))
        assert isinstance(receipt, ReceiptView) and receipt.online and receipt.amount == "£4.50"
    finally:
        running.close()
    assert world.wallet(resident, leisure) == 1050
