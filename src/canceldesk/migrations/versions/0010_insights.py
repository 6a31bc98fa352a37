"""assistant and insights: conversations, subscription usage facts, save offers

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assistant_conversations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_conversations")),
    )
    for col in ("customer_id", "updated_at"):
        op.create_index(op.f(f"ix_assistant_conversations_{col}"), "assistant_conversations", [col])
    op.create_table(
        "subscription_usage",
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("last_used_on", sa.Date(), nullable=True),
        sa.Column("previous_price", sa.BigInteger(), nullable=True),
        sa.Column("price_changed_on", sa.Date(), nullable=True),
        sa.Column("trial_ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name=op.f("fk_subscription_usage_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscription_usage")),
    )
    op.create_table(
        "save_offers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("offer", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_save_offers")),
    )
    for col in ("customer_id", "status", "created_at"):
        op.create_index(op.f(f"ix_save_offers_{col}"), "save_offers", [col])


def downgrade() -> None:
    for col in ("customer_id", "status", "created_at"):
        op.drop_index(op.f(f"ix_save_offers_{col}"), table_name="save_offers")
    op.drop_table("save_offers")
    op.drop_table("subscription_usage")
    for col in ("customer_id", "updated_at"):
        op.drop_index(op.f(f"ix_assistant_conversations_{col}"), table_name="assistant_conversations")
    op.drop_table("assistant_conversations")
