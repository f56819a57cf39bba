"""Card keys: a token is bound to its card, rotation needs no restart, a leaked key is distrusted everywhere.

On SQLite and PostgreSQL, through the API a kiosk calls and the `clubcard keys` commands an operator runs.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ledger.cards.keys import CardKeyStore, load_card_keys, retired_directory
from ledger.cards.token import CardKeyring, issue_token, load_card_key
from ledger.db.tables import staff_actions
from ledger.usecases.cards import printable_card
from tests.integration.value_support import LEISURE
from tests.support.api import World, assert_problem
from tests.support.cli import Cli, cli

__all__ = ["cli"]
REDEEM = "/api/v1/redemptions"


class Ticks:
    """A monotonic clock the test moves, so "a second later" needs no sleeping."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


class Council:
    """A leisure scheme, a pool that takes it, and the `clubcard` command pointed at the app's files."""

    def __init__(self, world: World, cli: Cli) -> None:
        self.world = world
        self.cli = cli
        settings = world.context.settings
        cli.environment(data_directory=settings.data_directory, database_url=settings.database_url)
        self.card_key_path = settings.card_key_path
        self.ticks = Ticks()
        # The running app's key store, on a clock the test moves.
        keys = load_card_keys(self.card_key_path, create_missing=False)
        world.context.card_key_store = CardKeyStore(self.card_key_path, keys, monotonic=self.ticks)
        self.leisure = world.scheme("leisure", "GBP", LEISURE, funded=50_000)
        _, self.pool = world.outlet(["leisure-centre"], ["leisure"])

    def teen(self, amount_minor: int = 800) -> str:
        """A teen in the leisure scheme with some vouchers."""
        teen = self.world.resident((self.leisure,))
        body = {"scheme": "leisure", "resident_id": teen, "amount_minor": amount_minor}
        issued = self.world.post("/api/v1/issuances", body, self.world.staff("caseworker"))
        assert issued.status_code == 201, issued.get_json()
        return teen

    def issue_card(self, resident_id: str) -> dict[str, Any]:
        """Issue a card through the API, as a caseworker does."""
        made = self.world.post(f"/api/v1/residents/{resident_id}/cards", {}, self.world.staff("caseworker"))
        assert made.status_code == 201, made.get_json()
        return dict(made.get_json())

    def rotate(self) -> str:
        """`clubcard keys rotate-card-key`, then a second passes; returns the retired key id."""
        old_key_id = self.world.context.card_key.key_id
        rotated = self.cli("keys", "rotate-card-key")
        assert rotated.exit_code == 0, rotated.output
        assert old_key_id in rotated.stdout
        self.ticks.seconds += 1.5
        return old_key_id

    def retired_key(self, key_id: str) -> Any:
        """The retired key's private PEM, as whoever copied it off the server holds it."""
        return load_card_key(retired_directory(self.card_key_path) / f"{key_id}.pem")

    def issued_at(self, number: str) -> int:
        """The issue time recorded for a card, in whole seconds, as its token carries it."""
        card = self.world.context.read(lambda uow: uow.people.card(number))
        return int(card["issued_at"].timestamp())

    def entitlements(self, token: str) -> Any:
        """What the pool's kiosk sees for a scanned token."""
        return self.world.get(f"/api/v1/cards/{token}/entitlements", self.pool)

    def redeem(self, token: str, amount_minor: int = 300) -> Any:
        """Spend at the pool with a scanned token."""
        return self.world.post(
            REDEEM, {"card_token": token, "amount_minor": amount_minor, "scheme": "leisure"}, self.pool
        )

    def published(self) -> dict[str, Any]:
        """The public card keys document, as a kiosk fetches it."""
        response = self.world.client.get("/.well-known/clubcard-keys")
        assert response.status_code == 200
        return dict(response.get_json())


def _key_id_of(token: str, published: dict[str, Any]) -> str:
    keyring = CardKeyring()
    for key in published["keys"]:
        keyring.add(key["key_id"], base64.urlsafe_b64decode(key["public_key"] + "=="))
    return keyring.verify(token).key_id


def test_a_token_forged_with_the_retired_key_for_a_card_issued_after_rotation_is_refused(
    world: World, cli: Cli
) -> None:
    council = Council(world, cli)
    teen = council.teen()
    retired_key_id = council.rotate()
    card = council.issue_card(teen)
    forged = issue_token(
        card["number"], council.issued_at(card["number"]), council.retired_key(retired_key_id)
    )
    books_before = world.books()

    assert_problem(council.entitlements(forged), 400, "invalid-token")
    assert_problem(council.redeem(forged), 400, "invalid-token")

    assert world.books() == books_before
    assert world.wallet(teen, council.leisure) == 800
    assert council.entitlements(card["token"]).status_code == 200
    assert council.redeem(card["token"]).status_code == 201
    assert world.wallet(teen, council.leisure) == 500


def test_a_token_with_another_issue_time_than_the_card_recorded_is_refused(world: World, cli: Cli) -> None:
    council = Council(world, cli)
    teen = council.teen()
    card = council.issue_card(teen)
    retired_key_id = council.rotate()
    # The retired key signed this card, so it can sign a token naming it; the issue time gives it away.
    reminted = issue_token(
        card["number"], council.issued_at(card["number"]) + 1, council.retired_key(retired_key_id)
    )

    assert_problem(council.entitlements(reminted), 400, "invalid-token")
    assert_problem(council.redeem(reminted), 400, "invalid-token")
    assert world.wallet(teen, council.leisure) == 800
    assert council.redeem(card["token"]).status_code == 201


def test_a_running_app_signs_new_cards_with_the_rotated_key_and_the_retired_key_still_verifies_its_cards(
    world: World, cli: Cli
) -> None:
    council = Council(world, cli)
    before = council.issue_card(council.teen())
    first_key_id = _key_id_of(before["token"], council.published())

    council.rotate()
    after = council.issue_card(council.teen())
    published = council.published()
    second_key_id = _key_id_of(after["token"], published)

    assert second_key_id != first_key_id
    assert {key["key_id"] for key in published["keys"]} == {first_key_id, second_key_id}
    assert council.entitlements(before["token"]).status_code == 200
    assert council.redeem(before["token"]).status_code == 201
    assert council.redeem(after["token"]).status_code == 201
    # A reprint of the older card carries the very token it was issued, under the retired key.
    reprint = world.context.read(
        lambda uow: printable_card(uow, number=before["number"], keys=world.context.card_keys)
    )
    assert reprint.token == before["token"]


def test_a_distrusted_card_key_is_refused_online_and_offline_and_its_cards_are_listed_for_reissue(
    world: World, cli: Cli
) -> None:
    council = Council(world, cli)
    kept_teen = council.teen()
    kept = council.issue_card(kept_teen)
    lost = council.issue_card(council.teen())
    world.block(lost["number"])
    leaked_key_id = council.rotate()
    newer = council.issue_card(council.teen())

    distrusted = cli("keys", "distrust-card-key", leaked_key_id)

    assert distrusted.exit_code == 0, distrusted.output
    assert "1 card needs reissuing" in distrusted.stdout
    assert kept["number"] in distrusted.stdout
    assert lost["number"] not in distrusted.stdout and newer["number"] not in distrusted.stdout
    assert_problem(council.entitlements(kept["token"]), 400, "invalid-token")
    assert_problem(council.redeem(kept["token"]), 400, "invalid-token")
    assert world.wallet(kept_teen, council.leisure) == 800
    assert council.redeem(newer["token"]).status_code == 201
    published = council.published()
    assert [key["key_id"] for key in published["keys"]] == [world.context.card_key.key_id]
    assert published["distrusted_keys"] == [leaked_key_id]
    assert {kept["number"], lost["number"]} <= set(published["revoked_cards"])
    assert newer["number"] not in published["revoked_cards"]
    reprint = world.get(f"/api/v1/cards/{kept['number']}/qr.svg", world.staff("caseworker"))
    assert_problem(reprint, 409, "conflict")
    logged = world.context.read(
        lambda uow: uow.execute_now(
            select(staff_actions.c.actor).where(staff_actions.c.action == "card_key.distrust")
        ).scalars()
    )
    assert [actor.startswith("cli") for actor in logged] == [True]


def test_a_card_signed_by_a_distrusted_key_is_reissued_by_replacing_it(world: World, cli: Cli) -> None:
    council = Council(world, cli)
    teen = council.teen()
    old = council.issue_card(teen)
    leaked_key_id = council.rotate()
    assert cli("keys", "distrust-card-key", leaked_key_id).exit_code == 0

    replaced = world.post(f"/api/v1/cards/{old['number']}/replace", {}, world.staff("caseworker"))

    assert replaced.status_code == 201, replaced.get_json()
    new_token = replaced.get_json()["token"]
    assert _key_id_of(new_token, council.published()) != leaked_key_id
    assert council.redeem(new_token).status_code == 201
    assert world.wallet(teen, council.leisure) == 500
    again = cli("keys", "distrust-card-key", leaked_key_id)
    assert again.exit_code == 0 and "already distrusted" in again.stdout
    assert "nothing to reissue" in again.stdout


def test_distrusting_the_current_or_an_unknown_card_key_is_refused_in_one_line(
    world: World, cli: Cli, tmp_path: Path
) -> None:
    council = Council(world, cli)
    current_key_id = world.context.card_key.key_id

    for key_id, expected in (
        (current_key_id, "run `clubcard keys rotate-card-key` first"),
        ("0123456789abcdef", "no card key 0123456789abcdef signed any active card here"),
        ("not-a-key", "a card key id is 16 hex digits"),
    ):
        refused = cli("keys", "distrust-card-key", key_id)
        assert refused.exit_code == 1, refused.output
        assert refused.stderr.startswith("error: ") and expected in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.output
    assert council.published()["distrusted_keys"] == []
