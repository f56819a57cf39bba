"""PostgreSQL's content hashes (ledger.db.verify_hashing) are ledger.journal's, SQLite's reference path too.

Transactions with awkward text are written as the ledger writes them (their hash from ledger.journal),
then verified unsealed and sealed. On both databases they verify. On PostgreSQL the server must vouch
for every one in one unit whose strings need no escaping, which it does only when its own hash of the
row equals the stored one (a differential test of the two encoders); the rest it leaves to the exact
recheck.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from ledger.db.tables import accounts
from ledger.db.verify_hashing import canonical_transaction
from ledger.journal import Posting, TransactionDraft
from ledger.signing import generate_signing_key
from ledger.units import Unit
from ledger.usecases import checkpoints
from tests.integration.conftest import Books
from tests.integration.tamper_support import behind_the_ledgers_back, seal_everything

# Quotes, backslashes, control characters, and what json.dumps(ensure_ascii=False) leaves as it is.
AWKWARD = st.sampled_from(['"', "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "é", "\u2028", "☃", "😀", "/", "'"])
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00") | AWKWARD, max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT
METADATA = st.dictionaries(TEXT, SCALARS | st.lists(SCALARS, max_size=3), max_size=3)
INSTANTS = st.datetimes(
    min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
)
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_serial = itertools.count()


@st.composite
def drafts(draw: st.DrawFn) -> tuple[TransactionDraft, list[str]]:
    """A balanced transaction in one or two units, with awkward text anywhere, and its account ids."""
    number = next(_serial)
    account_ids = [f"{draw(TEXT)[:24]}#{number}.{i}" for i in range(draw(st.integers(2, 4)))]
    units = draw(st.lists(st.sampled_from(list(Unit)), min_size=1, max_size=2, unique=True))
    postings: list[Posting] = []
    for unit in units:
        amount = draw(st.integers(1, 10**9))
        postings += [Posting(account_ids[0], unit, -amount), Posting(account_ids[1], unit, amount)]
    for extra in account_ids[2:]:
        amount = draw(st.integers(1, 10**9))
        postings += [Posting(extra, units[0], -amount), Posting(account_ids[0], units[0], amount)]
    occurred = draw(INSTANTS)
    draft = TransactionDraft(
        id=f"{draw(TEXT)[:20]}#{number}",
        kind=draw(TEXT)[:24] or "issue",
        postings=tuple(postings),
        occurred_at=occurred,
        recorded_at=draw(st.just(occurred) | INSTANTS),
        actor=draw(TEXT),
        idempotency_key=draw(st.none() | TEXT),
        outlet_id=draw(st.none() | TEXT),
        scheme_id=draw(st.none() | TEXT),
        rule_version=draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        metadata=draw(st.just({}) | METADATA),
    )
    return draft, account_ids


def left_to_python(draft: TransactionDraft) -> bool:
    """True when the server leaves it to the exact recheck: a string json.dumps escapes, or several units."""
    strings = [draft.id, draft.kind, draft.actor, draft.idempotency_key, draft.outlet_id, draft.scheme_id]
    strings += [p.account_id for p in draft.postings]
    several_units = len({p.unit for p in draft.postings}) > 1
    return several_units or any(_ESCAPED.search(s) for s in strings if s is not None)


def write(books: Books, batch: list[tuple[TransactionDraft, list[str]]]) -> None:
    """Insert the accounts and the transactions, hashed by ledger.journal, as the journal inserts them."""
    rows = [
        {"id": a, "name": a, "unit": "GBP", "kind": "funding", "floor_minor": None, "shard_count": 1,
         "created_at": books.clock.now()}
        for _, ids in batch for a in ids
    ]  # fmt: skip
    with books.engine.begin() as connection:
        connection.execute(insert(accounts), rows)
    for draft, _ in batch:
        books.run(lambda uow, draft=draft: uow.journal.insert(draft))


def server_rechecks(books: Books) -> int:
    """How many transactions PostgreSQL's hashing left to the exact recheck (verify's own parts)."""
    results = books.run(lambda uow: list(uow.verify.run_parallel(uow.verify.begin(), set())))
    assert all(result.first_bad is None for result in results)
    return sum(result.rechecked for result in results)


def test_awkward_transactions_hash_alike_on_the_server_and_in_ledger_journal(books: Books) -> None:
    key = generate_signing_key()
    written: list[TransactionDraft] = []

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(batch=st.lists(drafts(), min_size=1, max_size=4))
    def check(batch: list[tuple[TransactionDraft, list[str]]]) -> None:
        write(books, batch)
        written.extend(draft for draft, _ in batch)
        left = sum(left_to_python(draft) for draft in written)
        for sealed in (False, True):
            if sealed:
                seal_everything(books, key)
            report = books.run(lambda uow: checkpoints.verify(uow, {key.key_id}))
            assert report.ok, report.problem
            assert report.transactions_checked == len(written)
            if books.engine.dialect.name == "postgresql":
                assert server_rechecks(books) == left, "the server vouches for every plain transaction"

    check()


def test_a_hash_over_metadata_stored_in_another_spelling_is_not_taken_for_the_canonical_one(
    books: Books,
) -> None:
    at = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    draft = TransactionDraft(
        id="spelled-out", kind="issue", postings=(Posting("a", Unit.GBP, -5), Posting("b", Unit.GBP, 5)),
        occurred_at=at, recorded_at=at, actor="cw", metadata={"x": 1},
    )  # fmt: skip
    write(books, [(draft, ["a", "b"])])
    spelled = '{"x": 1}'  # the same metadata, not in canonical form
    instant = "2026-11-01T09:00:00.000000Z"
    header = (draft.id, draft.kind, instant, instant, draft.actor, None, None, None, None, None)
    over_the_spelling = hashlib.sha256(
        canonical_transaction(header, spelled, [("a", "GBP", -5), ("b", "GBP", 5)])
    ).hexdigest()
    behind_the_ledgers_back(
        books.engine,
        [
            (
                "UPDATE transactions SET metadata_json = :m, content_hash = :h WHERE id = :id",
                {"m": spelled, "h": over_the_spelling, "id": draft.id},
            )
        ],
    )

    report = books.run(lambda uow: checkpoints.verify(uow, set()))

    assert not report.ok
    assert report.first_bad_transaction == draft.id
    assert "content hash does not match" in (report.problem or "")
