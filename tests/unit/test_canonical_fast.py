"""The fast canonical form used by bulk writes and verify is byte for byte ledger.journal's."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.clock import rfc3339
from ledger.db.verify_hashing import canonical_transaction
from ledger.journal import Posting, TransactionDraft, canonical_json
from ledger.units import Unit

text = st.text(min_size=1, max_size=12)
maybe = st.none() | text
metadata = st.dictionaries(text, st.none() | st.integers() | text | st.booleans(), max_size=3)


@settings(max_examples=400, deadline=None)
@given(
    strings=st.tuples(text, text, text, maybe, maybe, maybe, maybe),
    version=st.none() | st.integers(-(2**40), 2**40),
    extra=metadata,
    accounts=st.lists(text, min_size=1, max_size=4),
    amount=st.integers(1, 10**11),
    at=st.datetimes(min_value=dt.datetime(1970, 1, 1), timezones=st.just(dt.UTC)),
)
def test_the_fast_form_hashes_like_the_journal(
    strings: tuple[Any, ...],
    version: int | None,
    extra: dict[str, Any],
    accounts: list[str],
    amount: int,
    at: Any,
) -> None:
    id_, kind, actor, key, outlet, scheme, reverses = strings
    postings = (
        *(Posting(a, Unit.GBP, -amount) for a in accounts),
        Posting("sink", Unit.GBP, amount * len(accounts)),
    )
    draft = TransactionDraft(
        id=id_, kind=kind, postings=postings, occurred_at=at, recorded_at=at, actor=actor,
        idempotency_key=key, outlet_id=outlet, scheme_id=scheme, rule_version=version, reverses_id=reverses,
        metadata=extra,
    )  # fmt: skip
    header = (id_, kind, rfc3339(at), rfc3339(at), actor, key, outlet, scheme, version, reverses)
    lines = [(p.account_id, p.unit.value, p.amount_minor) for p in postings]
    fast = canonical_transaction(header, canonical_json(extra).decode(), lines)
    assert hashlib.sha256(fast).hexdigest() == draft.content_hash
