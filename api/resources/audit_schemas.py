"""Schemas for accounts, transactions, proofs and the auditor's reports (in the OpenAPI), and the
bodies they dump. Every timestamp is `ledger.clock.rfc3339` text: the form hashes and signatures cover."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from api.pagination import PageQuery, page_schema
from api.resources.common_schemas import Rfc3339
from ledger.clock import rfc3339
from ledger.records import CheckpointRecord, TransactionRecord
from ledger.signing import SigningKey
from ledger.units import Unit
from ledger.usecases.audit import TrialBalance
from ledger.usecases.checkpoints import InclusionProof, checkpoint_signature_valid
from ledger.usecases.journal_export import FORMATS
from ledger.usecases.staff_log import MAX_FILTER_LENGTH, StaffAction

TIMESTAMP = "RFC 3339 UTC timestamp with microseconds, e.g. 2026-11-01T09:00:00.000000Z"


def timestamp(description: str = "", **kwargs: Any) -> fields.String:
    """A timestamp in responses: always `ledger.clock.rfc3339`, the form signatures and hashes cover."""
    text = f"{description}; {TIMESTAMP}" if description else TIMESTAMP
    return fields.String(metadata={"description": text, "format": "date-time"}, **kwargs)


class AtQuery(Schema):
    """?at= an instant (optional)."""

    at = Rfc3339(load_default=None, metadata={"description": "as of this instant (inclusive); default now"})


class AccountSchema(Schema):
    """An account and its balance now or as of an instant."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    kind = fields.String(required=True)
    floor_minor = fields.Integer(allow_none=True, metadata={"description": "lowest allowed; null = none"})
    balance_minor = fields.Integer(required=True)
    as_of = timestamp(required=True)


class EntrySchema(Schema):
    """One transaction in an account's history and what it did to this account."""

    transaction_id = fields.String(required=True)
    kind = fields.String(required=True)
    occurred_at = timestamp()
    recorded_at = timestamp(required=True)
    amount_minor = fields.Integer(required=True, metadata={"description": "this account's net change"})
    unit = fields.String()
    actor = fields.String()
    outlet_id = fields.String(allow_none=True)
    reverses_id = fields.String(allow_none=True)


EntryPageSchema = page_schema(EntrySchema, "EntryPage")


class EntriesQuery(PageQuery):
    """?limit=&starting_after=<transaction id>, newest first."""


class PostingSchema(Schema):
    """One line of a transaction."""

    account_id = fields.String(required=True)
    account_name = fields.String(required=True)
    unit = fields.String(required=True)
    amount_minor = fields.Integer(required=True, metadata={"description": "credit positive, debit negative"})


class TransactionSchema(Schema):
    """A transaction: every header field the content hash covers, its postings, and the hash."""

    id = fields.String(required=True)
    kind = fields.String(required=True)
    occurred_at = timestamp(required=True)
    recorded_at = timestamp(required=True)
    actor = fields.String(required=True)
    idempotency_key = fields.String(allow_none=True)
    outlet_id = fields.String(allow_none=True)
    scheme_id = fields.String(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    reverses_id = fields.String(allow_none=True)
    reversed_by = fields.String(allow_none=True, metadata={"description": "the reversing transaction"})
    metadata = fields.Dict(required=True)
    postings = fields.List(fields.Nested(PostingSchema), required=True)
    content_hash = fields.String(
        required=True,
        metadata={"description": "SHA-256 (hex) of canonical JSON {header, postings}: recomputable"},
    )


class CheckpointSchema(Schema):
    """A signed tree head: Ed25519 over tree_head_message(tree_size, root_hash, signed_at, key_id)."""

    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True)
    signed_at = timestamp("exactly the string that was signed", required=True)
    key_id = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "raw Ed25519 key, hex"})
    signature = fields.String(required=True)
    signature_valid = fields.Boolean(
        required=True,
        metadata={"description": "signed by the configured ledger key (id and public key both match)"},
    )


CheckpointPageSchema = page_schema(CheckpointSchema, "CheckpointPage")


class CheckpointPageQuery(PageQuery):
    """?limit=&starting_after=<tree size>, newest first."""

    starting_after = fields.String(load_default="", validate=validate.Regexp(r"^\d{0,18}$"))


class SealRequestSchema(Schema):
    """No fields: an empty body or {}; anything else is refused rather than silently ignored."""

    class Meta:
        """Refuse unknown fields."""

        unknown = RAISE


class SealResultSchema(Schema):
    """201: the new head and how many transactions it added; 200: {"sealed": 0}."""

    sealed = fields.Integer(required=True)
    tree_size = fields.Integer()
    root_hash = fields.String()
    signed_at = timestamp()
    key_id = fields.String()
    public_key = fields.String()
    signature = fields.String()
    signature_valid = fields.Boolean()


class ProofSchema(Schema):
    """An RFC 9162 inclusion proof of leaf SHA-256(0x00 || content_hash) under a signed tree head."""

    transaction_id = fields.String(required=True)
    content_hash = fields.String(required=True)
    leaf_index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True)
    audit_path = fields.List(fields.String(), required=True, metadata={"description": "hex, leaf first"})
    checkpoint = fields.Nested(CheckpointSchema, required=True)


class TrialBalanceLineSchema(Schema):
    """One account's balance."""

    account_id = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    balance_minor = fields.Integer(required=True)


class TrialBalanceSchema(Schema):
    """Every account with a non-zero balance at an instant; per unit the total is zero."""

    at = timestamp(required=True)
    lines = fields.List(fields.Nested(TrialBalanceLineSchema), required=True)
    totals_by_unit = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    balanced = fields.Boolean(required=True)


class JournalQuery(Schema):
    """?from=&to=&format=: transactions recorded after `from` up to and including `to`."""

    from_ = Rfc3339(
        data_key="from",
        load_default=None,
        metadata={"description": "exclusive lower bound (the opening balance instant); default: beginning"},
    )
    to = Rfc3339(load_default=None, metadata={"description": "inclusive upper bound; default: everything"})
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))


class JournalSchema(Schema):
    """The JSON journal (also served as text/csv and as an hledger journal in text/plain)."""

    from_ = timestamp(data_key="from", allow_none=True)
    to = timestamp(allow_none=True)
    data = fields.List(fields.Nested(TransactionSchema), required=True)


def _filter(description: str) -> fields.String:
    return fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=MAX_FILTER_LENGTH),
        metadata={"description": description},
    )


class StaffLogQuery(PageQuery):
    """?actor=&action=&target=&from=&to=&limit=&starting_after=<entry id>, newest first."""

    class Meta:
        """Refuse unknown parameters: a misspelt filter must not silently list everything."""

        unknown = RAISE

    actor = _filter("exactly this actor, e.g. caseworker:<key id>")
    action = _filter("exactly this action, e.g. resident.lookup, card.block, outlet.update")
    target = _filter("exactly this target: a resident id, card number, outlet id, scheme slug...")
    from_ = Rfc3339(
        data_key="from",
        load_default=None,
        metadata={"description": "exclusive lower bound; default: beginning"},
    )
    to = Rfc3339(load_default=None, metadata={"description": "inclusive upper bound; default: now"})


class StaffActionSchema(Schema):
    """One staff action: who did what, to what, when and from where."""

    id = fields.String(required=True)
    at = timestamp(required=True)
    actor = fields.String(required=True, metadata={"description": "role:key id (or the staff user)"})
    action = fields.String(required=True)
    target = fields.String(required=True)
    detail = fields.Dict(required=True, metadata={"description": "what else was recorded (never a name)"})
    key_id = fields.String(allow_none=True, metadata={"description": "the API key the request carried"})
    remote_address = fields.String(
        allow_none=True,
        metadata={"description": "the caller's address (behind a trusted proxy: the client's)"},
    )


StaffLogPageSchema = page_schema(StaffActionSchema, "StaffLogPage")


def staff_action_body(action: StaffAction) -> dict[str, Any]:
    """A staff log entry with its time as `ledger.clock.rfc3339` text."""
    return {
        "id": action.id,
        "at": rfc3339(action.at),
        "actor": action.actor,
        "action": action.action,
        "target": action.target,
        "detail": dict(action.detail),
        "key_id": action.key_id,
        "remote_address": action.remote_address,
    }


def entry_body(record: TransactionRecord, net: int, unit: Unit) -> dict[str, Any]:
    """One line of an account's history."""
    return {
        "transaction_id": record.id,
        "kind": record.kind,
        "occurred_at": rfc3339(record.occurred_at),
        "recorded_at": rfc3339(record.recorded_at),
        "amount_minor": net,
        "unit": unit.value,
        "actor": record.actor,
        "outlet_id": record.outlet_id,
        "reverses_id": record.reverses_id,
    }


def checkpoint_body(checkpoint: CheckpointRecord, key: SigningKey) -> dict[str, Any]:
    """A signed tree head, with whether the configured ledger key signed it."""
    valid = checkpoint_signature_valid(checkpoint, {key.key_id})
    # The stored public key must be the configured one too, not merely labelled with its key id.
    valid = valid and checkpoint.public_key == key.public_key_bytes().hex()
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "signed_at": rfc3339(checkpoint.signed_at),
        "key_id": checkpoint.key_id,
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
        "signature_valid": valid,
    }


def proof_body(proof: InclusionProof, key: SigningKey) -> dict[str, Any]:
    """An inclusion proof with its checkpoint."""
    return {
        "transaction_id": proof.transaction_id,
        "content_hash": proof.content_hash,
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "root_hash": proof.root_hash,
        "audit_path": list(proof.audit_path),
        "checkpoint": checkpoint_body(proof.checkpoint, key),
    }


def trial_balance_body(report: TrialBalance) -> dict[str, Any]:
    """The trial balance, with a total for every unit (zero when it has no accounts)."""
    assert report.at is not None, "the API always asks for an instant"
    lines = [
        {"account_id": x.account_id, "name": x.name, "unit": x.unit, "balance_minor": x.balance_minor}
        for x in report.lines
    ]
    totals = {unit.value: 0 for unit in Unit} | report.totals_by_unit
    return {"at": rfc3339(report.at), "lines": lines, "totals_by_unit": totals, "balanced": report.balanced}
