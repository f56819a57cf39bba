"""The unit of work's protocol names every repository the SQL unit of work binds, each with its real type."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ledger.ports import UNTYPED_REPOSITORIES

ROOT = Path(__file__).resolve().parents[2]


def declared() -> dict[str, str]:
    """Repository name -> the annotation the UnitOfWork protocol gives it."""
    tree = ast.parse((ROOT / "ledger" / "ports.py").read_text())
    protocol = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UnitOfWork")
    fields = [n for n in protocol.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    return {
        field.target.id: ast.unparse(field.annotation)
        for field in fields
        if isinstance(field.target, ast.Name)
    }


def test_every_bound_repository_is_declared_with_the_class_the_sql_unit_of_work_binds() -> None:
    bound = dict(re.findall(r"self\.(\w+) = (\w+)\(connection\)", (ROOT / "ledger/db/uow.py").read_text()))
    assert len(bound) > 20, "the SQL unit of work's repositories were read"
    annotations = declared()
    assert set(bound) <= set(annotations), "declare each new repository in ledger/ports.py"
    expected = {name: "Any" if name in UNTYPED_REPOSITORIES else bound[name] for name in bound}
    assert {name: annotations[name] for name in bound} == expected
