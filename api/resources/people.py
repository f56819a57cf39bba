"""Residents (pseudonymous, details kept apart), their cards, and scheme membership."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import RAISE

from api.auth import STAFF, current_principal, requires
from api.blueprint import Blueprint
from api.context import ctx
from api.limits import card_lookup
from api.pagination import PageQuery, page, page_schema
from api.resources.people_schemas import (
    CardSchema,
    EnrolledSchema,
    ExportSchema,
    IssuedCardSchema,
    MemberCreateSchema,
    MemberSchema,
    ResidentCreateSchema,
    ResidentLookupQuery,
    ResidentMatchesSchema,
    ResidentSchema,
)
from api.staff_requests import current_actor, optional_idempotency_key
from ledger.cards.render import card_pdf, qr_png, qr_svg
from ledger.cards.token import normalize_card_number
from ledger.errors import NotFound
from ledger.usecases.cards import (
    IssuedCard,
    PrintableCard,
    block_card,
    issue_first_card,
    look_up_card,
    printable_card,
    replace_card,
)
from ledger.usecases.memberships import enrol_member, list_members
from ledger.usecases.residents import (
    enrol_resident,
    erase_personal_data,
    export_resident,
    look_up_residents,
    resident_view,
)

blueprint = Blueprint("people", __name__, description="Residents, their cards and scheme membership")
PERSONAL_DATA_ROLES = ("caseworker", "admin")
CARD_ROLES = ("caseworker", "admin")


def _card_number(text: str) -> str:
    try:
        return normalize_card_number(text)
    except ValueError as error:
        raise NotFound("no such card") from error


def _issued(card: IssuedCard, replaces: str | None = None) -> dict[str, Any]:
    base = f"/api/v1/cards/{card.number}"
    return {
        "number": card.number,
        "resident_id": card.resident_id,
        "token": card.token,
        "key_id": card.key_id,
        "issued_at": card.issued_at,
        "qr_png_url": f"{base}/qr.png",
        "qr_svg_url": f"{base}/qr.svg",
        "card_pdf_url": f"{base}/card.pdf",
        "replaces": replaces,
    }


@blueprint.route("/residents")
class Residents(MethodView):
    """Enrolment, and looking a resident up: a pseudonymous resident, personal details kept apart."""

    @card_lookup()
    @requires(*PERSONAL_DATA_ROLES)
    @blueprint.arguments(ResidentLookupQuery, location="query", unknown=RAISE)
    @blueprint.response(200, ResidentMatchesSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Find residents by `card_number` (any of their cards), or by `name` and `date_of_birth` together
        (exact matches only, case and spacing aside; erased residents are never found by name). Each
        look-up is recorded in the staff log, never with the name searched for. Draws from the caller's
        card look-up rate limit."""
        actor, now = current_actor(), ctx().clock.now()
        return ctx().write(lambda uow: look_up_residents(uow, **query, now=now, actor=actor))

    @requires(*PERSONAL_DATA_ROLES)
    @blueprint.arguments(ResidentCreateSchema)
    @blueprint.response(201, ResidentSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Enrol a resident (optional Idempotency-Key); the ledger only sees the returned pseudonymous id.
        A replay reads the resident back as they are now: personal details are never kept with the key."""
        actor = current_actor()
        key = optional_idempotency_key()
        details = {k: v for k, v in body.items() if k != "kind"}

        def operation(uow: Any) -> dict[str, Any]:
            created = enrol_resident(
                uow,
                kind=body["kind"],
                details=details,
                now=ctx().clock.now(),
                actor=actor,
                idempotency_key=key,
            )
            return resident_view(uow, created["id"], personal=True)

        return ctx().write(operation)


@blueprint.route("/residents/<id>")
class ResidentItem(MethodView):
    """One resident."""

    @requires(*PERSONAL_DATA_ROLES, "auditor")
    @blueprint.response(200, ResidentSchema)
    def get(self, id: str) -> dict[str, Any]:
        """Read a resident with memberships, cards and wallet balances (auditors: the pseudonym only)."""
        personal = current_principal().role in PERSONAL_DATA_ROLES
        return ctx().read(lambda uow: resident_view(uow, id, personal=personal))


@blueprint.route("/residents/<id>/export")
class ResidentExport(MethodView):
    """Subject access."""

    @requires(*PERSONAL_DATA_ROLES)
    @blueprint.response(200, ExportSchema)
    def get(self, id: str) -> dict[str, Any]:
        """Export everything held about a resident: details, memberships, cards, lots, transactions."""
        actor = current_actor()
        return ctx().write(lambda uow: export_resident(uow, id, now=ctx().clock.now(), actor=actor))


@blueprint.route("/residents/<id>/personal-data")
class PersonalData(MethodView):
    """Erasure."""

    @requires("admin")
    @blueprint.response(204)
    @blueprint.alt_response(404, description="no such resident, or already erased")
    def delete(self, id: str) -> None:
        """Erase personal details (again → 404 not-found); the ledger, balances and proofs stay valid."""
        actor = current_actor()
        ctx().write(lambda uow: erase_personal_data(uow, id, now=ctx().clock.now(), actor=actor))


@blueprint.route("/residents/<id>/cards")
class ResidentCards(MethodView):
    """Card issue."""

    @requires(*CARD_ROLES)
    @blueprint.response(201, IssuedCardSchema)
    def post(self, id: str) -> dict[str, Any]:
        """Issue a card → number and signed QR token; 409 if the resident already has an active card.
        With an Idempotency-Key a retry gets the same card (its token is signed again, never stored)."""
        actor, key, context = current_actor(), optional_idempotency_key(), ctx()
        issued = context.write(
            lambda uow: issue_first_card(
                uow,
                resident_id=id,
                key=context.card_key,
                now=context.clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )
        return _issued(issued)


def _render(number: str, draw: Callable[[PrintableCard], bytes], mimetype: str, suffix: str) -> Response:
    context = ctx()
    card = context.read(lambda uow: printable_card(uow, number=_card_number(number), keys=context.card_keys))
    response = Response(draw(card), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{card.number}.{suffix}"'
    return response


def _binary(mimetype: str) -> dict[str, Any]:
    content = {mimetype: {"schema": {"type": "string", "format": "binary"}}}
    return {"responses": {"200": {"description": "the rendering", "content": content}}}


@blueprint.route("/cards/<number>/qr.png")
class CardPng(MethodView):
    """The QR code as a PNG."""

    decorators = [card_lookup()]

    @requires(*CARD_ROLES)
    @blueprint.doc(**_binary("image/png"))
    def get(self, number: str) -> Response:
        """The card's QR code (level Q) as a PNG image."""
        return _render(number, lambda card: qr_png(card.token), "image/png", "png")


@blueprint.route("/cards/<number>/qr.svg")
class CardSvg(MethodView):
    """The QR code as an SVG."""

    decorators = [card_lookup()]

    @requires(*CARD_ROLES)
    @blueprint.doc(**_binary("image/svg+xml"))
    def get(self, number: str) -> Response:
        """The card's QR code as an SVG image."""
        return _render(number, lambda card: qr_svg(card.token), "image/svg+xml", "svg")


@blueprint.route("/cards/<number>/card.pdf")
class CardPdf(MethodView):
    """The printable card."""

    decorators = [card_lookup()]

    @requires(*CARD_ROLES)
    @blueprint.doc(**_binary("application/pdf"))
    def get(self, number: str) -> Response:
        """A bank-card-sized PDF: council name, scheme badges, QR code and card number."""
        council = ctx().settings.council_name
        return _render(
            number,
            lambda card: card_pdf(card.token, card.number, card.scheme_names, council),
            "application/pdf",
            "pdf",
        )


@blueprint.route("/cards/<number>")
class CardItem(MethodView):
    """One card."""

    decorators = [card_lookup()]

    @requires(*CARD_ROLES)
    @blueprint.response(200, CardSchema)
    def get(self, number: str) -> dict[str, Any]:
        """A card's status (active, blocked or replaced), resident, issue and block times and replacement;
        recorded in the staff log. Draws from the caller's card look-up rate limit."""
        actor, card_number = current_actor(), _card_number(number)
        return ctx().write(
            lambda uow: look_up_card(uow, number=card_number, now=ctx().clock.now(), actor=actor)
        )


@blueprint.route("/cards/<number>/block")
class CardBlock(MethodView):
    """A lost card."""

    @requires(*CARD_ROLES)
    @blueprint.response(200, CardSchema)
    def post(self, number: str) -> dict[str, Any]:
        """Block a lost card (it joins the revocation list); the balance stays with the resident. Already
        blocked → 409, unless it is a retry with the same Idempotency-Key (then the first answer)."""
        actor, key, card_number = current_actor(), optional_idempotency_key(), _card_number(number)
        return ctx().write(
            lambda uow: block_card(
                uow, number=card_number, now=ctx().clock.now(), actor=actor, idempotency_key=key
            )
        )


@blueprint.route("/cards/<number>/replace")
class CardReplace(MethodView):
    """A replacement card."""

    @requires(*CARD_ROLES)
    @blueprint.response(201, IssuedCardSchema)
    def post(self, number: str) -> dict[str, Any]:
        """Block the card (if not already) and issue a new one with its token; wallets stay put. Already
        replaced → 409, unless it is a retry with the same Idempotency-Key (then the same new card)."""
        actor, key, context = current_actor(), optional_idempotency_key(), ctx()
        card_number = _card_number(number)
        issued = context.write(
            lambda uow: replace_card(
                uow,
                number=card_number,
                key=context.card_key,
                now=context.clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )
        return _issued(issued, replaces=card_number)


@blueprint.route("/schemes/<slug>/members")
class SchemeMembers(MethodView):
    """Scheme membership."""

    @requires(*STAFF)
    @blueprint.arguments(PageQuery, location="query")
    @blueprint.response(200, page_schema(MemberSchema, "MemberPage"))
    def get(self, query: dict[str, Any], slug: str) -> dict[str, Any]:
        """List a scheme's members by resident id."""
        return ctx().read(
            lambda uow: page(
                lambda limit, after: list_members(uow, slug=slug, limit=limit, after=after), query
            )
        )

    @requires("caseworker", "scheme_manager")
    @blueprint.arguments(MemberCreateSchema)
    @blueprint.response(201, EnrolledSchema)
    def post(self, body: dict[str, Any], slug: str) -> dict[str, Any]:
        """Enrol a resident if the scheme's current eligibility rules allow (else 422 not-eligible);
        already a member → 409, unless it is a retry with the same Idempotency-Key."""
        actor, key = current_actor(), optional_idempotency_key()
        return ctx().write(
            lambda uow: enrol_member(
                uow,
                slug=slug,
                resident_id=body["resident_id"],
                referral=body.get("referral"),
                collective_id=body.get("collective_id"),
                as_of=body.get("as_of"),
                now=ctx().clock.now(),
                actor=actor,
                idempotency_key=key,
            )
        )
