"""Staff accounts: argon2id passwords, TOTP that works once, recovery codes, sessions that end."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy import Engine

from ledger.db.uow import unit_of_work_factory
from ledger.errors import Conflict, ValidationFailed
from ledger.service import run_in_transaction
from ledger.usecases.staff_accounts import (
    NewStaffCredentials,
    check_password,
    check_second_factor,
    create_staff_user,
    disable_staff_user,
    pending_enrolment,
    reset_second_factor,
)
from ledger.usecases.staff_sessions import current_session, end_every_session, start_session

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery staple"


class Staff:
    """Runs the staff use cases on one database."""

    def __init__(self, engine: Engine) -> None:
        self.uow = unit_of_work_factory(engine)

    def run(self, operation):  # type: ignore[no-untyped-def]
        return run_in_transaction(self.uow, operation)

    def create(self, username: str = "alice", role: str = "caseworker") -> NewStaffCredentials:
        return self.run(
            lambda uow: create_staff_user(
                uow, username=username, display_name="Alice", role=role, password=PASSWORD, now=NOW
            )
        )

    def session(self, token: str, at: dt.datetime):  # type: ignore[no-untyped-def]
        return self.run(lambda uow: current_session(uow, token, now=at, idle_timeout_seconds=1800))


@pytest.fixture
def staff(engine: Engine) -> Staff:
    return Staff(engine)


def test_a_password_is_stored_as_argon2id_and_only_the_right_one_signs_in(staff: Staff) -> None:
    credentials = staff.create()
    stored = staff.run(lambda uow: uow.staff.user(credentials.user.id))["password_hash"]

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert staff.run(lambda uow: check_password(uow, "alice", "wrong password!!")) is None
    assert staff.run(lambda uow: check_password(uow, "nobody", PASSWORD)) is None
    assert staff.run(lambda uow: check_password(uow, " Alice ", PASSWORD)) == credentials.user


def test_a_short_password_or_a_taken_username_is_refused(staff: Staff) -> None:
    staff.create()

    with pytest.raises(ValidationFailed, match="12 to 256 characters"):
        staff.run(
            lambda uow: create_staff_user(
                uow, username="bob", display_name="", role="auditor", password="short", now=NOW
            )
        )
    with pytest.raises(Conflict):
        staff.create()


def test_a_totp_code_works_once_and_confirms_enrolment(staff: Staff) -> None:
    credentials = staff.create()
    user_id = credentials.user.id
    code = pyotp.TOTP(credentials.totp_secret).at(NOW)

    assert staff.run(lambda uow: pending_enrolment(uow, user_id)) is not None
    assert staff.run(lambda uow: check_second_factor(uow, user_id, "000000", NOW)) is (code == "000000")
    assert staff.run(lambda uow: check_second_factor(uow, user_id, code, NOW)) is True
    assert staff.run(lambda uow: check_second_factor(uow, user_id, code, NOW)) is False  # replayed
    assert staff.run(lambda uow: pending_enrolment(uow, user_id)) is None


def test_a_recovery_code_works_exactly_once(staff: Staff) -> None:
    credentials = staff.create()
    code = credentials.recovery_codes[0]

    assert staff.run(lambda uow: check_second_factor(uow, credentials.user.id, code, NOW)) is True
    assert staff.run(lambda uow: check_second_factor(uow, credentials.user.id, code, NOW)) is False


def test_a_session_ends_after_the_idle_timeout(staff: Staff) -> None:
    user = staff.create().user
    token = staff.run(
        lambda uow: start_session(uow, user.id, remote_address="127.0.0.1", user_agent="test", now=NOW)
    )

    assert staff.session(token, NOW + dt.timedelta(minutes=29)) is not None
    assert staff.session(token, NOW + dt.timedelta(minutes=58)) is not None  # touched at 29 minutes
    assert staff.session(token, NOW + dt.timedelta(minutes=89)) is None
    assert staff.session(token, NOW + dt.timedelta(minutes=90)) is None  # and it stays ended


def test_signing_out_everywhere_ends_every_session_of_that_user_only(staff: Staff) -> None:
    alice = staff.create().user
    bob = staff.create("bob").user

    def start(user_id: str) -> str:
        return staff.run(
            lambda uow: start_session(uow, user_id, remote_address="10.0.0.1", user_agent="x", now=NOW)
        )

    first, second, bobs = start(alice.id), start(alice.id), start(bob.id)
    ended = staff.run(lambda uow: end_every_session(uow, alice.id, actor="admin:root", now=NOW))

    assert ended == 2
    assert staff.session(first, NOW) is None
    assert staff.session(second, NOW) is None
    assert staff.session(bobs, NOW) is not None


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(staff: Staff) -> None:
    user = staff.create().user
    token = staff.run(
        lambda uow: start_session(uow, user.id, remote_address="10.0.0.1", user_agent="x", now=NOW)
    )

    staff.run(lambda uow: disable_staff_user(uow, "alice", actor="admin:root", now=NOW))

    assert staff.session(token, NOW) is None
    assert staff.run(lambda uow: check_password(uow, "alice", PASSWORD)) is None


def test_resetting_the_second_factor_needs_a_new_enrolment_and_ends_sessions(staff: Staff) -> None:
    first = staff.create()
    token = staff.run(
        lambda uow: start_session(uow, first.user.id, remote_address="10.0.0.1", user_agent="x", now=NOW)
    )
    staff.run(lambda uow: check_second_factor(uow, first.user.id, first.recovery_codes[0], NOW))

    second = staff.run(lambda uow: reset_second_factor(uow, "alice", actor="admin:root", now=NOW))

    assert second.totp_secret != first.totp_secret
    assert staff.session(token, NOW) is None
    assert staff.run(lambda uow: pending_enrolment(uow, first.user.id)) is not None
    old_code = pyotp.TOTP(first.totp_secret).at(NOW)
    new_code = pyotp.TOTP(second.totp_secret).at(NOW)
    if old_code != new_code:
        assert staff.run(lambda uow: check_second_factor(uow, first.user.id, old_code, NOW)) is False
    assert staff.run(lambda uow: check_second_factor(uow, first.user.id, new_code, NOW)) is True
