"""Transaction kinds are one enum: the groups that rules and reports count are drawn from it."""

from __future__ import annotations

import ast
from pathlib import Path

from ledger.kinds import (
    HOLD_RETURN_KINDS,
    ISSUE_KINDS,
    JOURNAL_KINDS,
    REVERSIBLE_KINDS,
    SPEND_COUNTED_KINDS,
    SPEND_KINDS,
    USE_KINDS,
    TransactionKind,
)

ROOT = Path(__file__).resolve().parents[2]
KIND_VALUES = {kind.value for kind in TransactionKind}
# Files other work streams own; each still spells some kinds as strings (listed for the coordinator).
NOT_YET_CONVERTED = {
    "ledger/usecases/redemptions.py",
    "ledger/usecases/redemption_batch.py",
    "ledger/usecases/street_pot.py",
    "ledger/usecases/topups.py",
    "ledger/usecases/topup_webhooks.py",
}


def kinds_spelled_as_strings(source: str) -> list[str]:
    """Each `kind="redeem"` argument, `kind: str = "redeem"` default or `.kind == "redeem"` comparison."""
    found = []
    for node in ast.walk(ast.parse(source)):
        literals: list[ast.expr | None] = []
        if isinstance(node, ast.keyword) and node.arg == "kind":
            literals = [node.value]
        elif isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
            literals = list(node.comparators) if node.left.attr == "kind" else []
        elif isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args][
                len(node.posonlyargs) + len(node.args) - len(node.defaults) :
            ]
            pairs = [
                *zip(positional, node.defaults, strict=True),
                *zip(node.kwonlyargs, node.kw_defaults, strict=True),
            ]
            literals = [default for argument, default in pairs if argument.arg == "kind"]
        found += [
            (literal.lineno, f"line {literal.lineno}: {literal.value}")
            for literal in literals
            if isinstance(literal, ast.Constant) and literal.value in KIND_VALUES
        ]
    return [text for _, text in sorted(found)]


def test_every_group_of_kinds_is_drawn_from_the_one_enum_and_the_journal_offers_every_kind() -> None:
    groups = (SPEND_KINDS, SPEND_COUNTED_KINDS, USE_KINDS, ISSUE_KINDS, HOLD_RETURN_KINDS, REVERSIBLE_KINDS)
    assert all(isinstance(kind, TransactionKind) for group in groups for kind in group)
    assert set(JOURNAL_KINDS) == set(TransactionKind)
    assert set(SPEND_COUNTED_KINDS) <= set(SPEND_KINDS) <= set(USE_KINDS)
    assert TransactionKind.REDEEM == "redeem" and f"{TransactionKind.HOLD_EXPIRY}" == "hold_expiry"


def test_the_ledger_and_its_views_name_kinds_by_the_enum_not_by_strings() -> None:
    files = [
        path
        for package in ("ledger", "api", "admin")
        for path in sorted((ROOT / package).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in NOT_YET_CONVERTED
    ]
    assert len(files) > 100, "the walk found the packages"
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in files
        for problem in kinds_spelled_as_strings(path.read_text())
    ]
    assert problems == [], "use ledger.kinds.TransactionKind"


def test_the_kind_rule_spots_what_it_should() -> None:
    source = 'draft(kind="redeem")\nif tx.kind == "expire": pass\ndef f(kind: str = "issue"): pass\n'
    assert kinds_spelled_as_strings(source) == ["line 1: redeem", "line 2: expire", "line 3: issue"]
    assert kinds_spelled_as_strings('rows(kind="queued")\nf(kind=TransactionKind.HOLD)\n') == []
