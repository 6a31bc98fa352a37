"""durable execution: execution leases, escalations, renewals and their ledger, scheduled-duty
runs; outbox delivery claim/retry columns

Revision ID: 0004
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "execution_leases",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTC, nullable=False),
        sa.Column("resumes", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_execution_leases_request_id_requests")),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_execution_leases")),
    )
    op.create_index(op.f("ix_execution_leases_lease_until"), "execution_leases", ["lease_until"])

    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("expected_by", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_escalations_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
    )
    op.create_index(op.f("ix_escalations_created_at"), "escalations", ["created_at"])
    op.create_index("ix_escalations_request_reason_level", "escalations", ["request_id", "reason", "level"], unique=True)

    op.create_table(
        "renewals",
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("subscription_id", sa.String(64), nullable=False),
        sa.Column("msisdn", sa.String(11), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("new_period_start", sa.Date(), nullable=True),
        sa.Column("new_period_end", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payment_ref", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("charged_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name=op.f("fk_renewals_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_renewals")),
    )
    op.create_index(op.f("ix_renewals_subscription_id"), "renewals", ["subscription_id"])

    op.create_table(
        "renewal_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("renewal_key", sa.String(120), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("memo", sa.String(200), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["renewal_key"], ["renewals.key"], name=op.f("fk_renewal_ledger_renewal_key_renewals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_renewal_ledger")),
    )
    op.create_index(op.f("ix_renewal_ledger_renewal_key"), "renewal_ledger", ["renewal_key"])

    op.create_table(
        "duty_runs",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_duty_runs")),
    )

    # Nullable columns: a plain ADD COLUMN on SQLite and PostgreSQL alike, no table rebuild.
    op.add_column("outbox", sa.Column("next_attempt_at", UTC, nullable=True))
    op.add_column("outbox", sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
    op.drop_table("duty_runs")
    op.drop_index(op.f("ix_renewal_ledger_renewal_key"), table_name="renewal_ledger")
    op.drop_table("renewal_ledger")
    op.drop_index(op.f("ix_renewals_subscription_id"), table_name="renewals")
    op.drop_table("renewals")
    op.drop_index("ix_escalations_request_reason_level", table_name="escalations")
    op.drop_index(op.f("ix_escalations_created_at"), table_name="escalations")
    op.drop_table("escalations")
    op.drop_index(op.f("ix_execution_leases_lease_until"), table_name="execution_leases")
    op.drop_table("execution_leases")
