"""Rules of the house: ledger/ is the domain; only ledger/db/ touches the database libraries."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

LEDGER = Path(__file__).resolve().parents[2] / "ledger"
PERSISTENCE = LEDGER / "db"
DATABASE_LIBRARIES = {"sqlalchemy", "alembic"}
WEB_LIBRARIES = {"flask", "werkzeug", "flask_smorest", "flask_limiter"}
OUTER_PACKAGES = {"api", "admin", "kiosk"}


def imported_modules(source: str, module: str) -> Iterator[str]:
    """Every module a source file imports, relative imports resolved against `module` (a dotted name)."""
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                yield ".".join([*base, node.module] if node.module else base)
            else:
                assert node.module is not None
                yield node.module
                continue
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value


def violations(path: Path, source: str) -> list[str]:
    """What a file under ledger/ imports that it must not."""
    module = ".".join(path.relative_to(LEDGER.parent).with_suffix("").parts)
    in_persistence = PERSISTENCE in path.parents
    found = []
    for name in imported_modules(source, module):
        top = name.split(".")[0]
        if top in WEB_LIBRARIES or top in OUTER_PACKAGES:
            found.append(f"{module} imports {name}")
        elif top in DATABASE_LIBRARIES and not in_persistence:
            found.append(f"{module} imports {name} outside ledger/db/")
    return found


def ledger_files() -> list[Path]:
    files = sorted(LEDGER.rglob("*.py"))
    assert len(files) > 10 and PERSISTENCE / "uow.py" in files, "the walk found the ledger package"
    return files


def test_nothing_in_ledger_imports_the_web_layer_the_outer_packages_or_the_database_outside_ledger_db() -> (
    None
):
    problems = [problem for path in ledger_files() for problem in violations(path, path.read_text())]
    assert problems == []


def test_ledger_db_is_where_sqlalchemy_lives() -> None:
    in_persistence = [
        name
        for path in ledger_files()
        if PERSISTENCE in path.parents
        for name in imported_modules(path.read_text(), "ledger.db.x")
    ]
    assert any(name.startswith("sqlalchemy") for name in in_persistence)


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        ("usecases/x.py", "import sqlalchemy", ["ledger.usecases.x imports sqlalchemy outside ledger/db/"]),
        (
            "x.py",
            "from sqlalchemy.orm import Session",
            ["ledger.x imports sqlalchemy.orm outside ledger/db/"],
        ),
        ("x.py", "import alembic.command", ["ledger.x imports alembic.command outside ledger/db/"]),
        ("x.py", "from flask import Flask", ["ledger.x imports flask"]),
        ("db/x.py", "import flask", ["ledger.db.x imports flask"]),
        ("usecases/x.py", "from api.app import create_app", ["ledger.usecases.x imports api.app"]),
        ("x.py", "import admin.cli", ["ledger.x imports admin.cli"]),
        ("x.py", "from kiosk import outbox", ["ledger.x imports kiosk"]),
        ("x.py", "import importlib\nimportlib.import_module('flask')", ["ledger.x imports flask"]),
        ("x.py", "def f():\n    import sqlalchemy", ["ledger.x imports sqlalchemy outside ledger/db/"]),
        ("db/x.py", "import sqlalchemy\nfrom alembic import op", []),
        ("usecases/x.py", "from ledger.errors import Conflict\nfrom . import flows", []),
        ("usecases/x.py", "from ..db import uow", []),
    ],
)
def test_the_import_rule_spots_what_it_should(relative: str, source: str, expected: list[str]) -> None:
    assert violations(LEDGER / relative, source) == expected
