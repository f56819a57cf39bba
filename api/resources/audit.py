"""Accounts, transactions, inclusion proofs and the auditor's reports: trial balance, journal, checkpoints.

Reads run on one consistent snapshot (ctx().read: SERIALIZABLE READ ONLY DEFERRABLE on PostgreSQL).
Auditors never write: the one write endpoint here (POST /audit/checkpoints) is for admin and finance.

GET /transactions/{id}/proof seals on demand: if the transaction is not yet under a signed checkpoint,
the view runs checkpoints.seal once in its own write transaction (cheap, behind the safe horizon, only
after the caller has been shown to be allowed to see the transaction) and then reads the proof. Sealing
adds no postings and changes no balance; it only extends the tamper-evident log, as the scheduled
sealer would. If the transaction still is not covered (an older writer is in flight, or another
sealer holds the lock), the answer is a 404 problem saying so, and a retry shortly succeeds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import RAISE

from api.auth import ANY, STAFF, current_principal, idempotency_key, requires
from api.blueprint import Blueprint
from api.context import LedgerContext, ctx
from api.pagination import page
from api.problems import ApiProblem
from api.resources.audit_schemas import (
    AccountSchema,
    AtQuery,
    CheckpointPageQuery,
    CheckpointPageSchema,
    EntriesQuery,
    EntryPageSchema,
    JournalQuery,
    JournalSchema,
    ProofSchema,
    SealRequestSchema,
    SealResultSchema,
    StaffLogPageSchema,
    StaffLogQuery,
    TransactionSchema,
    TrialBalanceSchema,
    checkpoint_body,
    entry_body,
    proof_body,
    staff_action_body,
    trial_balance_body,
)
from api.staff_requests import current_actor
from ledger.clock import rfc3339
from ledger.ports import UnitOfWork
from ledger.usecases import journal_export
from ledger.usecases.accounts import account_balance, account_entries, transaction_view, visible_transaction
from ledger.usecases.audit import trial_balance
from ledger.usecases.checkpoints import prove_inclusion, seal
from ledger.usecases.common import idempotent
from ledger.usecases.signed_heads import seal_on_request, signed_heads
from ledger.usecases.staff_log import StaffLogFilter, staff_log_page

blueprint = Blueprint("audit", __name__, description="Accounts, transactions, proofs and audit reports")

AUDIT_READERS = ("auditor", "finance")
STAFF_LOG_READERS = ("auditor", "admin")
SEALERS = ("admin", "finance")  # never auditor: auditors do not write


def _account(uow: UnitOfWork, account_id: str, at: dt.datetime | None) -> dict[str, Any]:
    found = account_balance(uow, account_id, at=at, now=ctx().clock.now())
    return {
        "id": found.account.id,
        "name": found.account.name,
        "unit": found.account.unit.value,
        "kind": found.account.kind.value,
        "floor_minor": found.account.floor_minor,
        "balance_minor": found.balance_minor,
        "as_of": rfc3339(found.as_of),
    }


@blueprint.route("/accounts/<account_id>")
class AccountItem(MethodView):
    """One account."""

    @requires(*STAFF)
    @blueprint.arguments(AtQuery, location="query")
    @blueprint.response(200, AccountSchema)
    def get(self, query: dict[str, Any], account_id: str) -> dict[str, Any]:
        """An account and its balance: now (O(1)), or `?at=` as the sum of postings up to that instant."""
        return ctx().read(lambda uow: _account(uow, account_id, query["at"]))


def _entries(uow: UnitOfWork, account_id: str, limit: int, after: str) -> list[dict[str, Any]]:
    found = account_entries(uow, account_id, limit=limit, starting_after=after)
    return [entry_body(entry.transaction, entry.net_minor, found.account.unit) for entry in found.entries]


@blueprint.route("/accounts/<account_id>/entries")
class AccountEntries(MethodView):
    """An account's history."""

    @requires(*STAFF)
    @blueprint.arguments(EntriesQuery, location="query")
    @blueprint.response(200, EntryPageSchema)
    def get(self, query: dict[str, Any], account_id: str) -> dict[str, Any]:
        """Newest first; `starting_after` is the last transaction id of the previous page."""
        return ctx().read(
            lambda uow: page(lambda limit, after: _entries(uow, account_id, limit, after), query)
        )


def _device_outlet() -> str | None:
    """The calling kiosk's outlet (a device sees only its own outlet's transactions); None for staff."""
    principal = current_principal()
    return principal.outlet_id if principal.role == "device" else None


def _transaction(uow: UnitOfWork, transaction_id: str) -> dict[str, Any]:
    found = transaction_view(uow, transaction_id, device_outlet_id=_device_outlet())
    return {
        **journal_export.transaction_dict(found.transaction, dict(found.account_names)),
        "reversed_by": found.reversed_by,
    }


@blueprint.route("/transactions/<transaction_id>")
class TransactionItem(MethodView):
    """One transaction."""

    @requires(*ANY)
    @blueprint.response(200, TransactionSchema)
    def get(self, transaction_id: str) -> dict[str, Any]:
        """Header, postings and content hash (a device: only transactions at its own outlet)."""
        return ctx().read(lambda uow: _transaction(uow, transaction_id))


def _proof(uow: UnitOfWork, transaction_id: str) -> dict[str, Any] | None:
    visible_transaction(uow, transaction_id, device_outlet_id=_device_outlet())
    proof = prove_inclusion(uow, transaction_id)
    return None if proof is None else proof_body(proof, ctx().ledger_key)


@blueprint.route("/transactions/<transaction_id>/proof")
class TransactionProof(MethodView):
    """Proof that a transaction is in the signed log."""

    @requires(*ANY)
    @blueprint.response(200, ProofSchema)
    def get(self, transaction_id: str) -> dict[str, Any]:
        """Merkle inclusion proof against the first signed checkpoint covering the transaction; seals
        on demand if it is not yet sealed (a device: only transactions at its own outlet)."""
        context = ctx()
        proof = context.read(lambda uow: _proof(uow, transaction_id))
        if proof is None:
            context.write(lambda uow: seal(uow, context.ledger_key, context.clock.now()))
            proof = context.read(lambda uow: _proof(uow, transaction_id))
        if proof is None:
            raise ApiProblem(
                404,
                "not-found",
                f"transaction {transaction_id} is not yet sealed under a signed checkpoint "
                "(an earlier transaction is still in flight); try again in a few seconds",
                sealed=False,
            )
        return proof


@blueprint.route("/audit/trial-balance")
class TrialBalance(MethodView):
    """The trial balance."""

    @requires(*AUDIT_READERS)
    @blueprint.arguments(AtQuery, location="query")
    @blueprint.response(200, TrialBalanceSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Every account's balance as of `at` (default now), summed from postings; per unit, zero."""
        at = query["at"] or ctx().clock.now()
        return ctx().read(lambda uow: trial_balance_body(trial_balance(uow, at)))


def _stream(context: LedgerContext, period: journal_export.ExportPeriod, fmt: str) -> Iterator[bytes]:
    # Its own read-only unit of work, held open while the client reads: one snapshot, bounded memory.
    # Closed when the response is closed, even if the client goes away half way.
    with context.uow_factory(read_only=True) as uow:
        for chunk in journal_export.export(uow, period, fmt):
            yield chunk.encode()


@blueprint.route("/audit/journal")
class Journal(MethodView):
    """The journal export."""

    @requires("auditor")
    @blueprint.arguments(JournalQuery, location="query")
    @blueprint.response(200, JournalSchema, description="format=json")
    @blueprint.alt_response(
        200, schema={"type": "string"}, content_type="text/csv", description="format=csv", success=True
    )
    @blueprint.alt_response(
        200, schema={"type": "string"}, content_type="text/plain", description="format=hledger", success=True
    )
    def get(self, query: dict[str, Any]) -> Response:
        """Transactions recorded after `from` up to and including `to`, streamed: json, csv (one row
        per posting) or an hledger journal (GBP as 12.50 GBP, HOUR as minutes 90 MIN, POINT as 5 POINT)."""
        period = journal_export.ExportPeriod(query["from_"], query["to"])
        fmt = query["format"]
        response = Response(_stream(ctx(), period, fmt), content_type=journal_export.CONTENT_TYPES[fmt])
        name = f"clubcard-journal.{journal_export.FILE_EXTENSIONS[fmt]}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response


@blueprint.route("/audit/checkpoints")
class Checkpoints(MethodView):
    """Signed tree heads."""

    @requires("auditor")
    @blueprint.arguments(CheckpointPageQuery, location="query")
    @blueprint.response(200, CheckpointPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Newest first, each with `signature_valid` against the configured ledger key;
        `starting_after` is the tree_size of the last head of the previous page."""
        context = ctx()

        def fetch(uow: UnitOfWork, limit: int, after: str) -> list[dict[str, Any]]:
            heads = signed_heads(uow, limit=limit, before_size=int(after) if after else None)
            return [checkpoint_body(head, context.ledger_key) for head in heads]

        return context.read(lambda uow: page(lambda limit, after: fetch(uow, limit, after), query))

    @requires(*SEALERS)
    @blueprint.arguments(SealRequestSchema, required=False)
    @blueprint.response(201, SealResultSchema, description="a new signed head")
    @blueprint.alt_response(200, schema=SealResultSchema, description='nothing new: {"sealed": 0}')
    def post(self, _body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Seal committed transactions (behind the safe horizon) and sign a new head now. An
        Idempotency-Key is optional (sealing adds no postings): when sent, a replay gets the first answer."""
        context, principal, actor = ctx(), current_principal(), current_actor()
        key = idempotency_key() if request.headers.get("Idempotency-Key") else None

        def operation(uow: UnitOfWork) -> dict[str, Any]:
            now = context.clock.now()

            def run() -> dict[str, Any]:
                outcome = seal_on_request(uow, context.ledger_key, now=now, actor=actor)
                if outcome.head is None:
                    return {"status": 200, "body": {"sealed": 0}}
                body = {"sealed": outcome.sealed, **checkpoint_body(outcome.head, context.ledger_key)}
                return {"status": 201, "body": body}

            if key is None:
                return run()
            request_data = {"op": "checkpoint.seal"}
            return idempotent(
                uow, scope=principal.actor, key=key, request=request_data, now=now, operation=run
            )

        outcome = context.write(operation)
        return outcome["body"], int(outcome["status"])


@blueprint.route("/audit/staff-log")
class StaffLog(MethodView):
    """The staff action log."""

    @requires(*STAFF_LOG_READERS)
    @blueprint.arguments(StaffLogQuery, location="query", unknown=RAISE)
    @blueprint.response(200, StaffLogPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Who did what, to what, when and from where (key id and address), newest first; filter by exact
        actor, action or target and by time (after `from`, up to and including `to`); `starting_after` is
        the id of the last entry of the previous page."""
        where = StaffLogFilter(
            actor=query["actor"],
            action=query["action"],
            target=query["target"],
            after=query["from_"],
            up_to=query["to"],
        )

        def fetch(uow: UnitOfWork, limit: int, after: str) -> list[dict[str, Any]]:
            entries = staff_log_page(uow, where=where, limit=limit, starting_after=after)
            return [staff_action_body(entry) for entry in entries]

        return ctx().read(lambda uow: page(lambda limit, after: fetch(uow, limit, after), query))
