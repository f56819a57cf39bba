"""A bulk job's fingerprints and receipts, rendered from a template, are byte for byte canonical_json."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.journal import canonical_json, request_fingerprint
from ledger.usecases.bulk_rendering import JsonTemplate, hole, json_text

text = st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(owner=text, lot=text, balance=st.integers(-(2**53), 2**53), category=st.none() | text)
def test_a_filled_template_is_the_canonical_json_of_the_filled_value(
    owner: str, lot: str, balance: int, category: str | None
) -> None:
    def value(owner: str, lot: str, balance: int | str) -> dict[str, object]:
        return {"owner": owner, "taken": [[lot, 5]], "balance_after_minor": balance, "category": category}

    template = JsonTemplate(value(hole("owner"), hole("lot"), hole("balance")))
    filled = {"owner": json_text(owner), "lot": json_text(lot), "balance": json_text(balance)}

    assert template.render(filled) == canonical_json(value(owner, lot, balance)).decode()
    assert template.sha256(filled) == request_fingerprint(value(owner, lot, balance))
