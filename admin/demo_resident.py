"""What `clubcard serve` prints about the resident page: its address and one demo card to try it with."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

DEMO_SCHEME = "time-bank"  # a member with hours earned, given and received shows the most


def print_demo_resident(keys_path: Path, base_url: str) -> None:
    """The resident page's URL and a demo card number with its holder's date of birth."""
    click.echo(f"\nResident page: {base_url}/my")
    cards = json.loads(keys_path.read_text()).get("cards", {})
    demo = next(
        (
            card
            for card in cards.values()
            if DEMO_SCHEME in card.get("schemes", []) and card.get("number") and card.get("date_of_birth")
        ),
        None,
    )
    if demo is None:
        return
    born = dt.date.fromisoformat(demo["date_of_birth"])
    click.echo(f"  demo card      {demo['number']}")
    click.echo(f"  date of birth  {born.day} {born.month} {born.year}")
    click.echo("  (on the first visit check the card with the date of birth, then choose a PIN)")
