"""The staff pages; importing this package registers every view on the staff blueprint."""

from admin.web.pages import (  # noqa: F401
    books,
    bulk,
    common,
    expiry,
    insight,
    outlets,
    residents,
    residents_cards,
    residents_records,
    schemes,
    settlements,
    settlements_payees,
    shortfalls,
    sign_in,
    staff_log,
    street_pot,
    topups,
)
