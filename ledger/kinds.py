"""The kinds of transaction the ledger records, and the groups of them that rules and reports count."""

from __future__ import annotations

import enum


class TransactionKind(enum.StrEnum):
    """What a transaction did; stored as its value in every transaction header (and so in its hash)."""

    FUND = "fund"  # bank → scheme budget
    ISSUE = "issue"  # budget → a resident's lot
    EARN = "earn"  # budget → wallet, for an earning event
    REDEEM = "redeem"  # lots → an outlet's payable account
    REFUND = "refund"  # a redemption reversed within its window
    REVERSAL = "reversal"  # any other correction of a reversible transaction
    HOLD = "hold"  # lots → held, the first phase of a two-phase spend
    CAPTURE = "capture"
    VOID = "void"
    HOLD_EXPIRY = "hold_expiry"  # a hold that timed out, its value back in the wallet
    TRANSFER = "transfer"  # member → member (time bank)
    EXPIRE = "expire"  # lot → budget, at its expiry
    TOPUP = "topup"  # Stripe → wallet, credited by the verified webhook
    SETTLE = "settle"  # outlet payable → clearing, and clearing → bank
    SETTLE_RETURN = "settle_return"  # a reversed or failed payout: the money owed again
    OFFLINE_SHORTFALL = "offline_shortfall"  # what a kiosk's offline spend took from offline risk


SPEND_KINDS: tuple[TransactionKind, ...] = (TransactionKind.REDEEM, TransactionKind.HOLD)
"""Value leaving a wallet towards an outlet: what the per-day spending limit counts."""

SPEND_COUNTED_KINDS: tuple[TransactionKind, ...] = (TransactionKind.REDEEM,)
"""Spends that count towards the day's counter when recorded by ledger.usecases.flows (holds count theirs
in ledger.usecases.holds)."""

USE_KINDS: tuple[TransactionKind, ...] = (*SPEND_KINDS, TransactionKind.TRANSFER)
"""A resident using value (spent at an outlet, held there, or paid to another member): what uptake counts."""

ISSUE_KINDS: tuple[TransactionKind, ...] = (TransactionKind.ISSUE, TransactionKind.EARN)
"""Value put into a resident's wallet from a scheme's budget: what uptake reports call issued."""

HOLD_RETURN_KINDS: tuple[TransactionKind, ...] = (
    TransactionKind.CAPTURE,
    TransactionKind.VOID,
    TransactionKind.HOLD_EXPIRY,
)
"""A resolved hold giving back what it did not use."""

REVERSIBLE_KINDS: tuple[TransactionKind, ...] = (
    TransactionKind.FUND,
    TransactionKind.ISSUE,
    TransactionKind.EARN,
    TransactionKind.REDEEM,
    TransactionKind.TRANSFER,
    TransactionKind.TOPUP,
)
"""Kinds a reversing transaction may correct."""

JOURNAL_KINDS: tuple[TransactionKind, ...] = tuple(TransactionKind)
"""Every kind, in the order the journal's filter offers them."""
