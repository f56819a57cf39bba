"""The kiosk at the counter in a real Chromium: camera, USB scanner and typed number; receipts, refunds,
holds; every refusal in plain words; no serious accessibility problems and no CSP violations anywhere."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, Playwright, expect

from ledger.usecases import flows
from tests.e2e.browser import ConsoleLog, save_screenshot, serious_accessibility_violations
from tests.e2e.test_kiosk_world import Card, CounterWorld, counter_world, launch_chromium_with

__all__ = ["counter_world"]
RESUBMIT = """(fields) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/spend";
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}"""
FORM_FIELDS = "(selector) => Object.fromEntries(new FormData(document.querySelector(selector)))"
FAKE_CAMERA = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")


def check_screen(page: Page, console: ConsoleLog, name: str) -> None:
    """Keep a screenshot of the screen and require it to be accessible and within its CSP."""
    save_screenshot(page, f"kiosk-{name}")
    assert serious_accessibility_violations(page) == [], name
    assert console.csp_violations() == [], name


def scan(page: Page, world: CounterWorld, card: Card) -> None:
    """What a USB/HID scanner does: type the token into the focused field and press Enter."""
    page.goto(world.kiosk.url)
    expect(page.locator("#card-token")).to_be_focused()
    page.keyboard.type(card.token)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).not_to_have_text("Scan a card")


def take(page: Page, scheme: str, amount: str, button: str = "Take payment") -> None:
    """Type an amount for a scheme and press the button."""
    page.fill(f"#amount-{scheme}", amount)
    page.locator(f"section[aria-labelledby='scheme-{scheme}']").get_by_role("button", name=button).click()


@pytest.fixture
def camera_page(
    counter_world: CounterWorld, browser_console: ConsoleLog, playwright: Playwright
) -> Iterator[Page]:
    """A Chromium of its own whose fake camera shows the teen's card."""
    video = counter_world.camera_video(counter_world.teen)
    chromium = launch_chromium_with(playwright, [*FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])
    try:
        context = chromium.new_context(permissions=["camera"])
        page = context.new_page()
        browser_console.attach(page)
        yield page
        save_screenshot(page, "kiosk-camera-end")
    finally:
        chromium.close()


@pytest.mark.browser
def test_the_camera_reads_a_card_and_the_counter_redeems_it(
    camera_page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    page = camera_page
    page.goto(counter_world.kiosk.url)
    check_screen(page, browser_console, "home")
    page.get_by_role("button", name="Start the camera").click()
    expect(page.locator("h1")).to_have_text("What this card can spend here", timeout=20_000)
    expect(page.get_by_text("£15.00").first).to_be_visible()
    expect(page.get_by_text("expires on")).to_be_visible()
    check_screen(page, browser_console, "entitlements")
    take(page, "leisure", "4.50")
    expect(page.locator("h1")).to_have_text("Accepted")
    expect(page.locator("[data-receipt-amount]")).to_have_text("£4.50")
    check_screen(page, browser_console, "receipt")
    assert counter_world.wallet(counter_world.teen) == 1050
    assert browser_console.errors() == []


@pytest.mark.browser
def test_a_usb_scanner_works_without_javascript(counter_world: CounterWorld, browser: object) -> None:
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    scan(page, counter_world, counter_world.teen)
    expect(page.locator("h1")).to_have_text("What this card can spend here")
    take(page, "leisure", "2")
    expect(page.locator("h1")).to_have_text("Accepted")
    save_screenshot(page, "kiosk-no-javascript-receipt")
    assert counter_world.wallet(counter_world.teen) == 1300
    context.close()


@pytest.mark.browser
def test_a_typed_card_number_finds_the_card(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    page.goto(counter_world.kiosk.url)
    page.fill("#card-number", counter_world.teen.number.replace("-", " ").lower())
    page.get_by_role("button", name="Find card").click()
    expect(page.locator("h1")).to_have_text("What this card can spend here")
    take(page, "leisure", "1.255")
    expect(page.locator(".govuk-error-summary")).to_contain_text("at most 2 digits after the point")
    check_screen(page, browser_console, "amount-error")
    take(page, "leisure", "1.25")
    expect(page.locator("[data-remaining-here]")).to_have_text("£13.75")


@pytest.mark.browser
def test_a_retried_spend_is_already_used_and_not_charged_again(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    scan(page, counter_world, counter_world.teen)
    page.fill("#amount-leisure", "3")
    sent = page.evaluate(FORM_FIELDS, "section[aria-labelledby='scheme-leisure'] form")
    take(page, "leisure", "3")
    expect(page.locator("h1")).to_have_text("Accepted")
    # The counter presses the button again (a double tap, or Try again): the very same form is sent.
    page.evaluate(RESUBMIT, {**sent, "action": "redeem"})
    expect(page.locator("h1")).to_have_text("Already used here")
    check_screen(page, browser_console, "already-used")
    assert counter_world.wallet(counter_world.teen) == 1200


@pytest.mark.browser
def test_each_refusal_is_put_in_plain_words(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    expected = [
        ("blocked", "This card is blocked", "Ask the council for a replacement; the balance is safe."),
        ("not-enough", "Not enough on the card", "There is not enough left on the card for this."),
        ("daily-limit", "Daily limit reached", "more than the card may spend today"),
        ("not-a-clubcard", "Not a Clubcard", "not a Clubcard we recognise"),
        ("not-accepted-here", "Not accepted here", "cannot be used for this here"),
    ]
    scan(page, counter_world, counter_world.blocked)
    _expect_outcome(page, browser_console, *expected[0])
    scan(page, counter_world, counter_world.low)
    take(page, "leisure", "3")
    _expect_outcome(page, browser_console, *expected[1])
    scan(page, counter_world, counter_world.teen)
    take(page, "leisure", "11")
    _expect_outcome(page, browser_console, *expected[2])
    page.goto(counter_world.kiosk.url)
    page.fill("#card-token", "C1.not-a-card.at-all")
    page.keyboard.press("Enter")
    _expect_outcome(page, browser_console, *expected[3])
    scan(page, counter_world, counter_world.release)
    take(page, "release", "5")  # its vouchers are for accommodation; the pool sells work clothes here
    _expect_outcome(page, browser_console, *expected[4])
    page.get_by_role("button", name="Back to this card").click()
    expect(page.locator("h1")).to_have_text("What this card can spend here")


@pytest.mark.browser
def test_vouchers_past_their_expiry_are_refused_as_expired_saying_when(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    world, leisure = counter_world.world, counter_world.leisure
    resident = world.resident((leisure,))
    card = Card(*world.card(resident), resident)
    expires_at = world.clock.now() + dt.timedelta(days=1)
    world.run(
        lambda uow: flows.issue(
            uow, scheme=leisure, owner_id=resident, amount_minor=800, now=world.clock.now(),
            actor="caseworker:test", key=f"issue-{card.number}", expires_at=expires_at,
        )
    )  # fmt: skip
    world.clock.advance(dt.timedelta(days=2))  # past its expiry; the expiry job has not run
    local = expires_at.astimezone(zoneinfo.ZoneInfo("Europe/London"))  # the kiosk's council zone
    day = f"{local.day} {local:%B %Y}"
    scan(page, counter_world, card)
    expect(page.locator("[data-expired]")).to_contain_text(f"£8.00 expired on {day}")
    check_screen(page, browser_console, "entitlements-expired")
    take(page, "leisure", "5")
    _expect_outcome(
        page,
        browser_console,
        "expired",
        "Expired",
        f"These vouchers expired on {day}, so the £8.00 on them cannot be used any more. Nothing was "
        "charged. Ask the council about new vouchers.",
    )
    assert counter_world.wallet(card) == 800


def _expect_outcome(page: Page, console: ConsoleLog, kind: str, heading: str, words: str) -> None:
    expect(page.locator(f"[data-outcome='{kind}'] h1")).to_have_text(heading)
    expect(page.locator(f"[data-outcome='{kind}']")).to_contain_text(words)
    check_screen(page, console, f"refused-{kind}")


@pytest.mark.browser
def test_the_last_spend_is_refunded_and_a_hold_is_captured_or_voided(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    scan(page, counter_world, counter_world.teen)
    take(page, "leisure", "5")
    page.get_by_role("button", name="Refund this spend").click()
    expect(page.locator("h1")).to_have_text("Accepted")
    expect(page.locator(".kiosk-receipt")).to_contain_text("Refunded")
    assert counter_world.wallet(counter_world.teen) == 1500
    scan(page, counter_world, counter_world.teen)
    take(page, "leisure", "6", button="Reserve it for now")
    expect(page.locator(".kiosk-receipt")).to_contain_text("Reserved")
    check_screen(page, browser_console, "hold")
    page.fill("#capture-amount", "4")
    page.get_by_role("button", name="Take payment").click()
    expect(page.locator(".kiosk-receipt")).to_contain_text("Taken from the reservation")
    assert counter_world.wallet(counter_world.teen) == 1100
    scan(page, counter_world, counter_world.teen)
    take(page, "leisure", "2", button="Reserve it for now")
    page.get_by_role("button", name="Release it back to the card").click()
    expect(page.locator(".kiosk-receipt")).to_contain_text("Released")
    assert counter_world.wallet(counter_world.teen) == 1100
    page.goto(counter_world.kiosk.url)
    check_screen(page, browser_console, "home-after-spends")


@pytest.mark.browser
def test_a_hold_that_timed_out_cannot_be_taken(
    page: Page, counter_world: CounterWorld, browser_console: ConsoleLog
) -> None:
    scan(page, counter_world, counter_world.teen)
    take(page, "leisure", "6", button="Reserve it for now")
    counter_world.world.clock.advance(dt.timedelta(hours=1))
    page.fill("#capture-amount", "6")
    page.get_by_role("button", name="Take payment").click()
    _expect_outcome(page, browser_console, "expired", "Expired", "has expired")
    assert counter_world.wallet(counter_world.teen) == 900
