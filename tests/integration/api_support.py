"""Not yet moved: test_audit_cli.py (another helper is editing it) imports the API driver from here.

The driver is tests.support.api.ApiDriver and its fixture `api` is in tests/conftest.py; delete this file
once test_audit_cli.py drops its import.
"""

from __future__ import annotations

from tests.conftest import api as api_fixture
from tests.support.api import ApiDriver, assert_problem

__all__ = ["ApiDriver", "api_fixture", "assert_problem"]
