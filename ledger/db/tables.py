"""The schema, as SQLAlchemy Core tables; Alembic migrations in migrations/ must agree with it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every database (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Normalise to UTC; SQLite gets naive UTC so string comparison orders correctly."""
        if value is None:
            return None
        assert value.tzinfo is not None, "naive datetimes are bugs: use the clock"
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Always hand back an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _id(name: str = "id", **kwargs: Any) -> Column[Any]:
    return Column(name, String(36), **kwargs)


accounts = Table(
    "accounts",
    metadata,
    _id(primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("unit", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    # NULL floor means no constraint: such accounts are credited through sharded balances, lock-free.
    Column("floor_minor", BigInteger, nullable=True),
    Column("shard_count", SmallInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("balance_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "shard"),
)

transactions = Table(
    "transactions",
    metadata,
    _id(primary_key=True),
    Column("kind", String(24), nullable=False),
    # Not indexed (migration 0018): nothing looks a transaction up by its key; a key's uniqueness and its
    # answer live in idempotency_keys.
    Column("idempotency_key", String(300), nullable=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(120), nullable=False),
    Column("outlet_id", String(36), nullable=True),
    Column("scheme_id", String(36), nullable=True),
    Column("rule_version", Integer, nullable=True),
    Column("reverses_id", String(36), ForeignKey("transactions.id"), nullable=True, unique=True),
    Column("metadata_json", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    # The order key for sealing: PostgreSQL's transaction id (so a snapshot's xmin is a safe horizon),
    # a serialised counter on SQLite, whose writers are serialised anyway.
    Column("seal_key", BigInteger, nullable=False, index=True),
)

postings = Table(
    "postings",
    metadata,
    Column("transaction_id", String(36), ForeignKey("transactions.id"), nullable=False),
    Column("line", SmallInteger, nullable=False),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("transaction_id", "line"),
    Index("ix_postings_account_recorded", "account_id", "recorded_at"),
)

lots = Table(
    "lots",
    metadata,
    Column("account_id", String(36), ForeignKey("accounts.id"), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("category", String(64), nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_lots_owner_scheme", "owner_id", "scheme_id"),
    # Only lots that expire (migration 0018): expiry asks for expires_at <= a time, and a wallet's main
    # lot, which never expires, then costs no index entry.
    Index(
        "ix_lots_expires_at",
        "expires_at",
        postgresql_where=text("expires_at IS NOT NULL"),
        sqlite_where=text("expires_at IS NOT NULL"),
    ),
)

holds = Table(
    "holds",
    metadata,
    _id(primary_key=True),
    Column("status", String(16), nullable=False),
    Column("owner_id", String(36), nullable=False),
    Column("scheme_id", String(36), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("hold_account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("payable_account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("outlet_id", String(36), nullable=True),
    Column("hold_transaction_id", String(36), ForeignKey("transactions.id"), nullable=False),
    Column("resolved_transaction_id", String(36), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Every draw on a wallet first looks for that wallet's pending holds past their timeout.
    Index("ix_holds_owner_scheme_status", "owner_id", "scheme_id", "status"),
)

# A recurring allowance paid to a member for one of the council's periods ("month:2026-11-01"): the
# primary key lets each member be paid once per period, whichever run or Idempotency-Key pays.
allowance_payments = Table(
    "allowance_payments",
    metadata,
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("period_key", String(24), nullable=False),
    Column("resident_id", String(36), nullable=False),
    # The payment that holds the period: its issue transaction carries this actor and key.
    Column("actor", String(120), nullable=False),
    Column("idempotency_key", String(300), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scheme_id", "period_key", "resident_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(120), nullable=False),
    Column("key", String(300), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("result_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
)

seals = Table(
    "seals",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("transaction_id", String(36), ForeignKey("transactions.id"), nullable=False, unique=True),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", String(64), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    # The Merkle frontier after this head (hex node hashes), so the next checkpoint extends it in O(log n).
    Column("frontier_json", Text, nullable=False),
)

# What each checkpoint sealed: the raw 32-byte content hashes at its positions, in order. With the
# previous head's frontier they rebuild the signed root, so verify can tell which transaction or seal
# record was altered after sealing, not merely which checkpoint.
checkpoint_leaves = Table(
    "checkpoint_leaves",
    metadata,
    Column(
        "tree_size", BigInteger, ForeignKey("checkpoints.tree_size"), primary_key=True, autoincrement=False
    ),
    Column("content_hashes", LargeBinary, nullable=False),
)

schemes = Table(
    "schemes",
    metadata,
    _id(primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("budget_account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

scheme_versions = Table(
    "scheme_versions",
    metadata,
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("rules_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(120), nullable=False),
    PrimaryKeyConstraint("scheme_id", "version"),
)

residents = Table(
    "residents",
    metadata,
    _id(primary_key=True),
    Column("kind", String(16), nullable=False),  # person, household or collective (a street)
    Column("created_at", UtcDateTime, nullable=False),
)

# Personal data lives apart from the pseudonymous ledger so it can be exported and erased.
personal_details = Table(
    "personal_details",
    metadata,
    Column("resident_id", String(36), ForeignKey("residents.id"), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("date_of_birth", String(10), nullable=True),
    Column("postcode", String(16), nullable=True),
    Column("ward", String(64), nullable=True),
    Column("contact", String(200), nullable=True),
    # SHA-256 of the case- and space-normalised name: staff find a person by exact name and birth date.
    Column("name_lookup_hash", String(64), nullable=False),
    Index("ix_personal_details_name_lookup", "name_lookup_hash", "date_of_birth"),
)

resident_erasures = Table(
    "resident_erasures",
    metadata,
    Column("resident_id", String(36), ForeignKey("residents.id"), primary_key=True),
    Column("erased_at", UtcDateTime, nullable=False),
    Column("erased_by", String(120), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("resident_id", String(36), ForeignKey("residents.id"), nullable=False),
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("collective_id", String(36), ForeignKey("residents.id"), nullable=True),
    Column("referral", String(200), nullable=True),
    Column("enrolled_at", UtcDateTime, nullable=False),
    Column("enrolled_by", String(120), nullable=False),
    PrimaryKeyConstraint("resident_id", "scheme_id"),
    Index("ix_memberships_scheme", "scheme_id"),
    Index("ix_memberships_scheme_resident", "scheme_id", "resident_id"),
)

cards = Table(
    "cards",
    metadata,
    Column("number", String(32), primary_key=True),
    Column("resident_id", String(36), ForeignKey("residents.id"), nullable=False, index=True),
    Column("key_id", String(32), nullable=False, index=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("blocked_at", UtcDateTime, nullable=True),
    Column("replaced_by", String(32), nullable=True),
)

# Card keys withdrawn because they leaked: every token they signed is refused, online and offline.
distrusted_card_keys = Table(
    "distrusted_card_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("distrusted_at", UtcDateTime, nullable=False),
    Column("distrusted_by", String(120), nullable=False),
)

outlets = Table(
    "outlets",
    metadata,
    _id(primary_key=True),
    Column("name", String(200), nullable=False),
    Column("categories_json", Text, nullable=False),
    Column("schemes_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("role", String(24), nullable=False),
    Column("outlet_id", String(36), ForeignKey("outlets.id"), nullable=True),
    Column("label", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    _id(primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("result_json", Text, nullable=True),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    # The last member a committed chunk covered, and until when the worker running the job holds it.
    Column("resume_after", String(36), nullable=False, server_default=""),
    Column("lease_expires_at", UtcDateTime, nullable=True),
    Index("ix_jobs_status_created_at", "status", "created_at"),
)

# Members a job passed over, with the reason in words (bookkeeping, written with the chunk they were in).
job_refusals = Table(
    "job_refusals",
    metadata,
    Column("job_id", String(36), ForeignKey("jobs.id"), nullable=False),
    Column("resident_id", String(36), nullable=False),
    Column("problem", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("job_id", "resident_id"),
)

# The members a bulk issuance was asked to pay, as a CSV file listed them: each line's reference (a card
# number or resident id), the resident it names, and why it cannot be paid (it names nobody, or someone
# who is not a member). Kept from the dry run, under the id its job will have; bookkeeping, like jobs.
job_members = Table(
    "job_members",
    metadata,
    Column("job_id", String(36), nullable=False),
    Column("reference", String(36), nullable=False),
    Column("resident_id", String(36), nullable=True),
    Column("problem", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    PrimaryKeyConstraint("job_id", "reference"),
    Index("ix_job_members_job_resident", "job_id", "resident_id"),
)

staff_actions = Table(
    "staff_actions",
    metadata,
    _id(primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(120), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("detail_json", Text, nullable=False),
    # From where: the API key the request carried and the caller's address (None outside a request).
    Column("key_id", String(36), nullable=True),
    Column("remote_address", String(64), nullable=True),
    Index("ix_staff_actions_actor_at", "actor", "at"),
    Index("ix_staff_actions_target_at", "target", "at"),
)

# Staff who log in to the web UI: argon2id password, mandatory TOTP, hashed one-use recovery codes.
staff_users = Table(
    "staff_users",
    metadata,
    _id(primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(24), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    Column("totp_confirmed_at", UtcDateTime, nullable=True),
    # The last TOTP time step accepted: a code is never accepted twice.
    Column("last_totp_step", BigInteger, nullable=True),
    Column("recovery_codes_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

# Server-side sessions: the cookie carries a random token; only its SHA-256 is stored, so a copy of the
# database cannot be replayed as a login. Revoking a row signs that browser out at once.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("staff_users.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("remote_address", String(64), nullable=False),
    Column("user_agent", String(200), nullable=False),
)


# What a kiosk's offline redemptions could not take from the wallet when they synced: the outlet is still
# paid, the difference comes from the scheme's offline-risk account, and staff see each one here.
offline_shortfalls = Table(
    "offline_shortfalls",
    metadata,
    _id(primary_key=True),
    Column("idempotency_key", String(300), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("outlet_id", String(36), nullable=False),
    Column("scheme_id", String(36), nullable=False),
    Column("card_number", String(32), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("covered_minor", BigInteger, nullable=False),
    Column("shortfall_minor", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("redemption_transaction_id", String(36), nullable=True),
    Column("shortfall_transaction_id", String(36), ForeignKey("transactions.id"), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False, index=True),
)

# A member of staff's note resolving an offline shortfall (written off, recovered, kiosk fixed...): a fact,
# once per shortfall, kept beside the shortfall rather than edited into it.
shortfall_resolutions = Table(
    "shortfall_resolutions",
    metadata,
    Column("shortfall_id", String(36), ForeignKey("offline_shortfalls.id"), primary_key=True),
    Column("note", Text, nullable=False),
    Column("resolved_by", String(120), nullable=False),
    Column("resolved_at", UtcDateTime, nullable=False),
)

# What a wallet has spent at outlets on one council day ([day_start, day_end) in UTC), kept current in the
# spend's own transaction so the per-day limit is one row read, not a sum over history. Bookkeeping, not a
# fact: refunds and unused holds take their amount back off the day they were spent.
spend_counters = Table(
    "spend_counters",
    metadata,
    Column("owner_id", String(36), nullable=False),
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("day_start", UtcDateTime, nullable=False),
    Column("day_end", UtcDateTime, nullable=False),
    Column("spent_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner_id", "scheme_id", "day_start"),
)


# A resident's PIN for their own pages (/my): argon2id, never the PIN itself; set on their first visit.
resident_pins = Table(
    "resident_pins",
    metadata,
    Column("resident_id", String(36), ForeignKey("residents.id"), primary_key=True),
    Column("pin_hash", String(200), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
)

# A resident's short sessions on /my: the cookie carries a random token, the database its SHA-256.
resident_sessions = Table(
    "resident_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("resident_id", String(36), ForeignKey("residents.id"), nullable=False, index=True),
    Column("card_number", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

# The council's wards and their deprivation decile (1 = most deprived tenth), uploaded as a CSV for the
# insight pages' equity lens; each upload replaces the list.
ward_deprivation = Table(
    "ward_deprivation",
    metadata,
    Column("ward", String(64), primary_key=True),
    Column("decile", SmallInteger, nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    Column("uploaded_by", String(120), nullable=False),
)

# A top-up started through Stripe Checkout: pending until Stripe's verified webhook says the session was paid
# (completed, with the crediting transaction) or expired. Bookkeeping beside the ledger: its status moves on,
# the money only ever moves by the transaction it names.
topups = Table(
    "topups",
    metadata,
    _id(primary_key=True),
    Column("status", String(16), nullable=False),
    Column("resident_id", String(36), ForeignKey("residents.id"), nullable=False),
    Column("card_number", String(32), nullable=False),
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("checkout_session_id", String(255), nullable=False, unique=True),
    Column("checkout_url", Text, nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("transaction_id", String(36), ForeignKey("transactions.id"), nullable=True),
    # The monthly cap per card sums a resident's recent top-ups in a scheme.
    Index("ix_topups_resident_scheme_created", "resident_id", "scheme_id", "created_at"),
)

# Every Stripe event we accepted, once: the primary key deduplicates a replay or a concurrent delivery, as the
# row is inserted in the same transaction as the postings the event causes.
stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# The street pot: a street's wallet in a collective scheme, spent on what its households choose. A round
# of voting per street and scheme, open until closes_at; closing it records the outcome and the payment once
# (the conditional close and the payment's idempotency key both say so).
street_pot_rounds = Table(
    "street_pot_rounds",
    metadata,
    _id(primary_key=True),
    Column("street_id", String(36), ForeignKey("residents.id"), nullable=False),
    Column("scheme_id", String(36), ForeignKey("schemes.id"), nullable=False),
    Column("closes_at", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("opened_by", String(120), nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(120), nullable=True),
    Column("outcome", String(24), nullable=True),
    Column("winner_proposal_id", String(36), nullable=True),
    Column("payment_transaction_id", String(36), ForeignKey("transactions.id"), nullable=True),
    Index("ix_street_pot_rounds_street_scheme", "street_id", "scheme_id", "opened_at"),
)

# What a round's households may vote for: a title, a cost in the scheme's unit, the outlet that delivers it.
street_pot_proposals = Table(
    "street_pot_proposals",
    metadata,
    _id(primary_key=True),
    Column("round_id", String(36), ForeignKey("street_pot_rounds.id"), nullable=False, index=True),
    Column("title", String(120), nullable=False),
    Column("cost_minor", BigInteger, nullable=False),
    Column("outlet_id", String(36), ForeignKey("outlets.id"), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("added_by", String(120), nullable=False),
)

# One vote per household per round (the primary key), changed in place until the round closes; which card
# voted is not kept, and no name is ever read with a vote.
street_pot_votes = Table(
    "street_pot_votes",
    metadata,
    Column("round_id", String(36), ForeignKey("street_pot_rounds.id"), nullable=False),
    Column("household_id", String(36), ForeignKey("residents.id"), nullable=False),
    Column("proposal_id", String(36), ForeignKey("street_pot_proposals.id"), nullable=False),
    Column("voted_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("round_id", "household_id"),
)

# Where an outlet is paid: its Stripe Connect account (acct_...) and, for payment files, its bank details.
# Bookkeeping that finance or an admin changes (each change is in the staff log), not a ledger fact.
outlet_payees = Table(
    "outlet_payees",
    metadata,
    Column("outlet_id", String(36), ForeignKey("outlets.id"), primary_key=True),
    Column("connected_account_id", String(64), nullable=True),
    Column("sort_code", String(6), nullable=True),
    Column("account_number", String(8), nullable=True),
    Column("account_name", String(18), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(120), nullable=False),
)

# A settlement batch: every outlet's payable up to period_end. `sequence` is unique, so two batches made
# at once cannot both follow the same one (the second reruns and finds the first).
settlement_batches = Table(
    "settlement_batches",
    metadata,
    _id(primary_key=True),
    Column("sequence", Integer, nullable=False, unique=True),
    Column("period_start", UtcDateTime, nullable=True),
    Column("period_end", UtcDateTime, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("approved_by", String(120), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
    Column("paid_by", String(120), nullable=True),
    Column("paid_at", UtcDateTime, nullable=True),
)

# One outlet's line of a batch: what it is owed, what happened to it, and its Stripe transfer.
settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("batch_id", String(36), ForeignKey("settlement_batches.id"), nullable=False),
    Column("outlet_id", String(36), ForeignKey("outlets.id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),
    Column("reason", Text, nullable=True),
    Column("destination", String(64), nullable=True),
    Column("transfer_id", String(64), nullable=True, unique=True),
    # Stripe refused the transfer this many times (nothing paid): the next try needs a fresh key.
    Column("transfer_attempt", SmallInteger, nullable=False, server_default="0"),
    Column("settled_at", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("batch_id", "outlet_id"),
)

# Tables whose rows are facts: database triggers refuse UPDATE and DELETE on them.
IMMUTABLE_TABLES = (
    "transactions",
    "postings",
    "seals",
    "checkpoints",
    "checkpoint_leaves",
    "staff_actions",
    "allowance_payments",
    "shortfall_resolutions",
    "stripe_events",
)
