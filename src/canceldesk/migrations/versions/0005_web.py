"""web: complaints/appeals on a request, enterprise batches and their per-line items

Revision ID: 0005
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)
ENCRYPTED = canceldesk.adapters.orm.Encrypted()


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", ENCRYPTED, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("filed_by", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution", ENCRYPTED, nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_complaints_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("reference", name=op.f("uq_complaints_reference")),
    )
    for col in ("request_id", "customer_id", "status", "created_at"):
        op.create_index(op.f(f"ix_complaints_{col}"), "complaints", [col])

    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("acknowledged_warnings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_enterprise_id"), "batches", ["enterprise_id"])
    op.create_index(op.f("ix_batches_created_at"), "batches", ["created_at"])

    op.create_table(
        "batch_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(11), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=True),
        sa.Column("blockers", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("refund", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("tracking_no", sa.String(32), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_batch_items_batch_id_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_items")),
    )
    op.create_index("ix_batch_items_batch_position", "batch_items", ["batch_id", "position"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_batch_items_batch_position", table_name="batch_items")
    op.drop_table("batch_items")
    op.drop_index(op.f("ix_batches_created_at"), table_name="batches")
    op.drop_index(op.f("ix_batches_enterprise_id"), table_name="batches")
    op.drop_table("batches")
    for col in ("request_id", "customer_id", "status", "created_at"):
        op.drop_index(op.f(f"ix_complaints_{col}"), table_name="complaints")
    op.drop_table("complaints")
