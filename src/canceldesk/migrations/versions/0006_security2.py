"""security 2: admin logins ended by a closed or re-issued number; in-person verifications; idle sessions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ended_admin_logins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("msisdn", sa.String(11), nullable=False),
        sa.Column("ended_at", UTC, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ended_admin_logins")),
    )
    op.create_index(op.f("ix_ended_admin_logins_msisdn"), "ended_admin_logins", ["msisdn"])
    op.create_table(
        "staff_verifications",
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("verified_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("actor", "customer_id", name=op.f("pk_staff_verifications")),
    )
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", UTC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("last_seen_at")
    op.drop_table("staff_verifications")
    op.drop_index(op.f("ix_ended_admin_logins_msisdn"), table_name="ended_admin_logins")
    op.drop_table("ended_admin_logins")
