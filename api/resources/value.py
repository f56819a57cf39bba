"""Issuing, earning and transferring value: issuances (one or bulk), jobs, earnings, transfers."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import url_for
from flask.views import MethodView

from api.auth import current_principal, idempotency_key, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.limits import card_lookup
from api.pagination import PageQuery, page
from api.problems import ApiProblem
from api.resources.value_schemas import (
    BulkIssuanceSchema,
    EarningReceiptSchema,
    EarningSchema,
    IssuanceReceiptSchema,
    IssuanceSchema,
    JobAcceptedSchema,
    JobRefusalPageSchema,
    JobSchema,
    TransferReceiptSchema,
    TransferSchema,
)
from api.spend_writes import spend_write
from ledger.usecases.bulk_allowance import start_bulk_issuance
from ledger.usecases.earnings import EarningEvent, earn
from ledger.usecases.issuances import IssueRequest, issue_to_member
from ledger.usecases.jobs import job_progress, job_refusals
from ledger.usecases.transfers import TransferRequest, transfer

blueprint = Blueprint("value", __name__, description="Issuing, earning and transferring value")


def _staff_caller() -> bool:
    """Card look-ups are rate limited for devices; staff naming residents by id are not."""
    try:
        return current_principal().role != "device"
    except ApiProblem:
        return False


def _issue_request(body: dict[str, Any]) -> IssueRequest:
    return IssueRequest(
        scheme=body["scheme"],
        amount_minor=body.get("amount_minor"),
        purpose=body.get("purpose"),
        category=body.get("category"),
        expires_at=body.get("expires_at"),
    )


@blueprint.route("/issuances")
class Issuances(MethodView):
    """Crediting a member from the scheme budget."""

    @requires("caseworker", "scheme_manager")
    @blueprint.arguments(IssuanceSchema)
    @blueprint.response(201, IssuanceReceiptSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue to an enrolled, eligible member (budget-exhausted, not-eligible); needs Idempotency-Key."""
        principal, key, now = current_principal(), idempotency_key(), ctx().clock.now()
        request = _issue_request(body)
        return ctx().write(
            lambda uow: issue_to_member(
                uow,
                request=request,
                resident_id=body["resident_id"],
                now=now,
                zone=ctx().clock.zone,
                actor=principal.actor,
                key=key,
            )
        )


@blueprint.route("/issuances/bulk")
class BulkIssuances(MethodView):
    """An allowance to every member of a scheme, as a job a worker runs."""

    @requires("scheme_manager")
    @blueprint.arguments(BulkIssuanceSchema)
    @blueprint.response(202, JobAcceptedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue the job (a retry with the same key returns it, and resumes it if it failed)."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        request = _issue_request(body)
        accepted = context.write(
            lambda uow: start_bulk_issuance(
                uow, request=request, now=now, zone=context.clock.zone, actor=principal.actor, key=key
            )
        )
        return {**dataclasses.asdict(accepted), "status_url": url_for("value.Job", id=accepted.job_id)}


@blueprint.route("/jobs/<id>")
class Job(MethodView):
    """A job and its progress."""

    @requires("admin", "scheme_manager")
    @blueprint.response(200, JobSchema)
    def get(self, id: str) -> dict[str, Any]:
        """Status and progress: done of total, paid / already paid / refused, and the refusals' link."""
        progress = ctx().read(lambda uow: job_progress(uow, id))
        return {**dataclasses.asdict(progress), "refused_url": url_for("value.JobRefusals", id=id)}


@blueprint.route("/jobs/<id>/refusals")
class JobRefusals(MethodView):
    """The members a job passed over, with the reason in words."""

    @requires("admin", "scheme_manager")
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, JobRefusalPageSchema)
    def get(self, query: dict[str, Any], id: str) -> dict[str, Any]:
        """By resident id; `starting_after` is the last resident id of the previous page."""
        return ctx().read(
            lambda uow: page(
                lambda limit, after: [
                    dataclasses.asdict(refusal) for refusal in job_refusals(uow, id, limit=limit, after=after)
                ],
                query,
            )
        )


@blueprint.route("/earnings")
class Earnings(MethodView):
    """Earning events."""

    @card_lookup(exempt_when=_staff_caller)
    @requires("device", "scheme_manager")
    @blueprint.arguments(EarningSchema)
    @blueprint.response(201, EarningReceiptSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Credit an event after the caps (limit-exceeded at 0); a rule may require a role."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        event = EarningEvent(
            scheme=body["scheme"],
            event_type=body["event_type"],
            resident_id=body.get("resident_id"),
            card_token=body.get("card_token"),
            quantity=body.get("quantity"),
        )
        return context.write(
            lambda uow: earn(
                uow,
                event=event,
                role=principal.role,
                outlet_id=principal.outlet_id,
                keyring=context.keyring,
                now=now,
                zone=context.clock.zone,
                actor=principal.actor,
                key=key,
            )
        )


@blueprint.route("/transfers")
class Transfers(MethodView):
    """Member-to-member transfers."""

    @card_lookup(exempt_when=_staff_caller)
    @requires("device", "caseworker")
    @blueprint.arguments(TransferSchema)
    @blueprint.response(201, TransferReceiptSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Pay another member where the scheme is transferable (else 422 rule-violation)."""
        principal, key, context = current_principal(), idempotency_key(), ctx()
        now = context.clock.now()
        request = TransferRequest(
            scheme=body["scheme"],
            amount_minor=body["amount_minor"],
            from_resident_id=body.get("from_resident_id"),
            from_card_token=body.get("from_card_token"),
            to_resident_id=body.get("to_resident_id"),
            to_card_token=body.get("to_card_token"),
            note=body.get("note"),
        )
        return spend_write(
            lambda uow: transfer(
                uow,
                request=request,
                outlet_id=principal.outlet_id,
                keyring=context.keyring,
                now=now,
                actor=principal.actor,
                key=key,
            )
        )
