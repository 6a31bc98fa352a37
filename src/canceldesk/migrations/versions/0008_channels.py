"""channels: SMS inbound message ids and SMS/IVR conversation state

Revision ID: 0008
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_inbound",
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("msisdn", sa.String(32), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("channel", "message_id", name=op.f("pk_channel_inbound")),
    )
    op.create_index("ix_channel_inbound_msisdn_received", "channel_inbound", ["msisdn", "received_at"])
    op.create_table(
        "channel_conversations",
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("msisdn", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_channel_conversations")),
    )
    op.create_index(op.f("ix_channel_conversations_updated_at"), "channel_conversations", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_conversations_updated_at"), table_name="channel_conversations")
    op.drop_table("channel_conversations")
    op.drop_index("ix_channel_inbound_msisdn_received", table_name="channel_inbound")
    op.drop_table("channel_inbound")
