"""Run the `clubcard` command in-process through its real entry point (admin.cli.main), as operators do."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from admin.cli import main


@dataclasses.dataclass(frozen=True)
class CliResult:
    """What the operator saw: the exit code and both output streams."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything printed, both streams."""
        return self.stdout + self.stderr


class Cli:
    """The `clubcard` command with CLUBCARD_* variables of the test's choosing, run in-process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        for name in list(os.environ):
            if name.startswith("CLUBCARD_"):
                monkeypatch.delenv(name)

    def environment(self, *, data_directory: Path | None = None, database_url: str | None = None) -> None:
        """Point the command at a data directory and a database (unset: the defaults under ./var)."""
        for name, value in (("CLUBCARD_DATA_DIR", data_directory), ("CLUBCARD_DATABASE_URL", database_url)):
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, str(value))

    def __call__(self, *arguments: str) -> CliResult:
        """Run `clubcard ARGUMENTS...` and return what it printed and how it exited."""
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "argv", ["clubcard", *arguments])
        try:
            main()
            exit_code = 0
        except SystemExit as exit_:
            exit_code = 0 if exit_.code is None else exit_.code if isinstance(exit_.code, int) else 1
        captured = self.capsys.readouterr()
        return CliResult(exit_code, captured.out, captured.err)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The `clubcard` command, run in-process with a clean CLUBCARD_* environment."""
    return Cli(monkeypatch, capsys)
