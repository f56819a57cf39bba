"""The kiosk through a network cut, in a real Chromium: spends within the offline floor, refusals beyond
it, sync exactly once when the API is back, even after a kill -9 mid-sync; shortfalls flagged."""

from __future__ import annotations

import signal
import time

import pytest
from playwright.sync_api import Page, expect

from ledger.usecases.audit import check
from tests.e2e.browser import ConsoleLog
from tests.e2e.test_kiosk_counter import check_screen, scan, take
from tests.e2e.test_kiosk_world import Card, CounterWorld, counter_world

__all__ = ["counter_world"]
SHORTFALLS = "/api/v1/offline-shortfalls"


def _offline_spend(page: Page, world: CounterWorld, card: Card, amount: str) -> None:
    scan(page, world, card)
    expect(page.locator("h1")).to_have_text("What this card can spend here")
    take(page, "leisure", amount)


def _offline_redemptions(world: CounterWorld) -> int:
    def count(uow: object) -> int:
        return sum(1 for record in uow.journal.stream() if record.metadata.get("offline"))  # type: ignore[attr-defined]

    return int(world.world.context.read(count))


def _books_balance(world: CounterWorld) -> None:
    report = world.world.context.read(lambda uow: check(uow))
    assert report.ok, report.problems


@pytest.mark.browser
def test_offline_the_kiosk_takes_spends_within_the_floor_and_syncs_them_once_when_back(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    world = counter_world
    world.api.stop()
    _offline_spend(page, world, world.teen, "3")
    expect(page.locator("h1")).to_have_text("Accepted while offline")
    expect(page.locator(".kiosk-offline-banner")).to_contain_text("cannot reach the council")
    check_screen(page, browser_console, "offline-receipt")
    _offline_spend(page, world, world.teen, "2.50")
    expect(page.locator("[data-outcome='daily-limit'] h1")).to_have_text("Over the offline limit")
    check_screen(page, browser_console, "offline-over-the-floor")
    _offline_spend(page, world, world.teen, "2")
    expect(page.locator("h1")).to_have_text("Accepted while offline")
    scan(page, world, world.blocked)
    expect(page.locator("h1")).to_have_text("This card is blocked")
    page.goto(f"{world.kiosk.url}/queue")
    expect(page.locator("tbody tr")).to_have_count(2)
    check_screen(page, browser_console, "offline-queue")
    assert world.wallet(world.teen) == 1500
    world.api.start()
    world.kiosk.wait_until(lambda status: status["online"] and status["queued"] == 0)
    world.kiosk.wait_until(lambda status: status["synced"] == 2)
    assert world.wallet(world.teen) == 1000
    assert world.payable() == 500
    assert _offline_redemptions(world) == 2
    page.goto(world.kiosk.url)
    expect(page.locator(".kiosk-status")).to_contain_text("Online")
    _books_balance(world)


@pytest.mark.browser
def test_a_kiosk_killed_mid_sync_still_syncs_each_spend_exactly_once(
    page: Page, counter_world: CounterWorld
) -> None:
    world = counter_world
    world.api.stop()
    for _ in range(25):  # more than one sync batch
        _offline_spend(page, world, world.teen, "0.20")
        expect(page.locator("h1")).to_have_text("Accepted while offline")
    assert world.kiosk.status()["queued"] == 25
    killed = []

    def kill_the_kiosk(synced_so_far: int) -> None:
        if synced_so_far == 1:  # the first batch is applied; its answer never arrives
            world.kiosk.kill(signal.SIGKILL)
            killed.append(synced_so_far)  # only now may the test start the kiosk again

    world.api.after_offline_sync = kill_the_kiosk
    world.api.start()
    deadline = time.monotonic() + 30
    while not killed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert killed == [1]
    world.kiosk.start()
    world.kiosk.wait_until(lambda status: status["queued"] == 0 and status["synced"] == 25)
    assert _offline_redemptions(world) == 25
    assert world.wallet(world.teen) == 1000
    assert world.payable() == 500
    _books_balance(world)


@pytest.mark.browser
def test_a_card_emptied_elsewhere_while_the_kiosk_was_offline_is_posted_and_flagged(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    world = counter_world
    world.api.stop()
    _offline_spend(page, world, world.low, "1.50")  # the card holds £2.00
    expect(page.locator("h1")).to_have_text("Accepted while offline")
    _, library = world.world.outlet(["leisure-centre"], ["leisure"])
    elsewhere = world.world.post(
        "/api/v1/redemptions",
        {"card_token": world.low.token, "scheme": "leisure", "amount_minor": 200},
        library,
    )
    assert elsewhere.status_code == 201, elsewhere.get_json()
    world.api.start()
    world.kiosk.wait_until(lambda status: status["synced"] == 1)
    [flagged] = world.world.get(SHORTFALLS, world.world.staff("finance")).get_json()["data"]
    assert (flagged["card_number"], flagged["shortfall"]) == (world.low.number, "£1.50")
    assert world.payable() == 150
    assert world.wallet(world.low) == 0
    _books_balance(world)
