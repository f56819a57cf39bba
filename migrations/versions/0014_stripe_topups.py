"""Stripe top-ups: checkout sessions and the webhook events already applied

Revision ID: 0014_stripe_topups
Revises: 0013_job_members
"""

revision = "0014_stripe_topups"
down_revision = "0013_job_members"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: the tables come with the work that needs them."""


def downgrade() -> None:
    """Nothing yet."""
