"""Rules of the house: api/, admin/ and kiosk/ call use cases, never the repositories of a unit of work."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTER_PACKAGES = ("api", "admin", "kiosk")
UNIT_OF_WORK_NAMES = {"uow", "unit_of_work"}
UNIT_OF_WORK_OWN_ATTRIBUTES = {"commit", "dialect"}


def repository_names() -> set[str]:
    """The repositories a unit of work carries, read from the protocol in ledger/ports.py."""
    tree = ast.parse((ROOT / "ledger" / "ports.py").read_text())
    protocol = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UnitOfWork")
    names = {
        n.target.id for n in protocol.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    return names - UNIT_OF_WORK_OWN_ATTRIBUTES


def repository_calls(source: str, repositories: set[str]) -> list[str]:
    """Where the source reaches into a unit of work: `uow.<repository>`, `<name>.<repository>.<call>()`.

    `self.<name>` is left out: a view's or a form's own attributes are not a unit of work."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not isinstance(node.value, ast.Name):
            continue
        into_unit_of_work = (
            node.value.id in UNIT_OF_WORK_NAMES and node.attr not in UNIT_OF_WORK_OWN_ATTRIBUTES
        )
        if into_unit_of_work:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id not in {*UNIT_OF_WORK_NAMES, "self"}  # uow: counted above
            and node.func.value.attr in repositories
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
    return found


def test_no_view_command_or_kiosk_module_calls_a_repository() -> None:
    repositories = repository_names()
    assert {"accounts", "journal", "people", "registry"} <= repositories, "the protocol was read"
    files = [path for package in OUTER_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 50, "the walk found the outer packages"
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in files
        for problem in repository_calls(path.read_text(), repositories)
    ]
    assert problems == [], "call a use case in ledger/usecases/ through the context instead"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("context.read(lambda uow: uow.schemes.list(limit=1))", ["line 1: uow.schemes"]),
        ("def f(uow):\n    return uow.accounts", ["line 2: uow.accounts"]),
        ("unit.people.add_resident(id=1)", ["line 1: unit.people.add_resident"]),
        ("uow.commit()\nuow.dialect", []),
        ("form.schemes.data\njournal_export.export(uow, period, 'csv')", []),
        ("context.keyring.verify(token)", []),
        ("self.schemes.get(slug)", []),
    ],
)
def test_the_repository_rule_spots_what_it_should(source: str, expected: list[str]) -> None:
    assert repository_calls(source, repository_names()) == expected
