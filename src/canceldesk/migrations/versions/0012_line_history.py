"""line history: every change of a line's status, append-only

Revision ID: 0012
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "line_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("msisdn", sa.String(11), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(36)),
        sa.Column("reason", sa.String(100)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_history")),
    )
    op.create_index(op.f("ix_line_history_msisdn"), "line_history", ["msisdn"])
    op.create_index(op.f("ix_line_history_request_id"), "line_history", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_line_history_request_id"), table_name="line_history")
    op.drop_index(op.f("ix_line_history_msisdn"), table_name="line_history")
    op.drop_table("line_history")
