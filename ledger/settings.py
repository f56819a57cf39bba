"""Configuration from the environment, with embedded defaults that run out of the box."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ledger.clock import DEFAULT_TIME_ZONE, council_zone

DEFAULT_COUNCIL_CONTACT = "call 0300 123 4567 (Monday to Friday, 9am to 5pm) or visit any council library"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything an operator can configure."""

    database_url: str
    data_directory: Path
    ledger_key_path: Path
    card_key_path: Path
    redis_url: str | None
    council_name: str
    stripe_secret_key: str | None  # STRIPE_API_KEY: without it top-ups and Connect payouts say they are off
    stripe_webhook_secret: str | None  # STRIPE_WEBHOOK_SECRET: signs what Stripe posts to /webhooks/stripe
    time_zone: str = DEFAULT_TIME_ZONE  # the council's: its days, weeks and months (caps, allowances)
    resident_date_of_birth_sign_in: bool = True  # residents may sign in to /my with their date of birth
    council_contact: str = DEFAULT_COUNCIL_CONTACT  # how a resident reaches the council (a lost card)
    stripe_api_base: str | None = None  # CLUBCARD_STRIPE_API_BASE: another Stripe API address (tests' fake)

    def __post_init__(self) -> None:
        council_zone(self.time_zone)  # refuse an unknown zone at start-up, naming the setting

    @classmethod
    def from_environment(cls, environment: dict[str, str] | None = None) -> Settings:
        """Read CLUBCARD_* variables; SQLite in ./var by default."""
        env = dict(os.environ if environment is None else environment)
        data = Path(env.get("CLUBCARD_DATA_DIR", "var"))
        url = env.get("CLUBCARD_DATABASE_URL") or f"sqlite:///{data / 'clubcard.sqlite3'}"
        return cls(
            database_url=url,
            data_directory=data,
            ledger_key_path=Path(env.get("CLUBCARD_LEDGER_KEY", data / "keys" / "ledger-ed25519.pem")),
            card_key_path=Path(env.get("CLUBCARD_CARD_KEY", data / "keys" / "card-ed25519.pem")),
            redis_url=env.get("CLUBCARD_REDIS_URL") or None,
            council_name=env.get("CLUBCARD_COUNCIL_NAME", "Demo Borough Council"),
            stripe_secret_key=env.get("STRIPE_API_KEY") or env.get("STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            time_zone=env.get("CLUBCARD_TIME_ZONE") or DEFAULT_TIME_ZONE,
            resident_date_of_birth_sign_in=env.get("CLUBCARD_RESIDENT_DOB_SIGN_IN", "on").strip().lower()
            not in ("off", "0", "false", "no"),
            council_contact=env.get("CLUBCARD_COUNCIL_CONTACT") or DEFAULT_COUNCIL_CONTACT,
            stripe_api_base=env.get("CLUBCARD_STRIPE_API_BASE") or None,
        )
