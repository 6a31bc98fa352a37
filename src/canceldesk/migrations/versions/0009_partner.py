"""partner API: partner keys, TMF622 product orders (on batches), cancellations, notification hubs

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

import canceldesk.adapters.orm

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = canceldesk.adapters.orm.UTCDateTime(timezone=True)
ENCRYPTED = canceldesk.adapters.orm.Encrypted()


def upgrade() -> None:
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("revoked_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_keys")),
    )
    op.create_index(op.f("ix_partner_keys_enterprise_id"), "partner_keys", ["enterprise_id"])

    for name, type_ in (("item_ref", sa.String(64)), ("action", sa.String(8)), ("item_kind", sa.String(20)),
                        ("subscription_id", sa.String(64))):
        op.add_column("batch_items", sa.Column(name, type_, nullable=True))

    op.create_table(
        "product_orders",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("order_date", UTC, nullable=False),
        sa.Column("completion_date", UTC, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("priority", sa.String(10), nullable=True),
        sa.Column("requested_completion_date", UTC, nullable=True),
        sa.Column("related_party", sa.JSON(), nullable=False),
        sa.Column("cancellation_date", UTC, nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["id"], ["batches.id"], name=op.f("fk_product_orders_id_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_orders")),
    )
    for col in ("enterprise_id", "state", "order_date"):
        op.create_index(op.f(f"ix_product_orders_{col}"), "product_orders", [col])

    op.create_table(
        "product_order_cancels",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("requested_cancellation_date", UTC, nullable=True),
        sa.Column("effective_cancellation_date", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["product_orders.id"],
                                name=op.f("fk_product_order_cancels_order_id_product_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_order_cancels")),
    )
    for col in ("order_id", "enterprise_id"):
        op.create_index(op.f(f"ix_product_order_cancels_{col}"), "product_order_cancels", [col])

    op.create_table(
        "tmf_hubs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("callback", sa.String(200), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("secret", ENCRYPTED, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("deleted_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tmf_hubs")),
    )
    op.create_index(op.f("ix_tmf_hubs_enterprise_id"), "tmf_hubs", ["enterprise_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tmf_hubs_enterprise_id"), table_name="tmf_hubs")
    op.drop_table("tmf_hubs")
    for col in ("order_id", "enterprise_id"):
        op.drop_index(op.f(f"ix_product_order_cancels_{col}"), table_name="product_order_cancels")
    op.drop_table("product_order_cancels")
    for col in ("enterprise_id", "state", "order_date"):
        op.drop_index(op.f(f"ix_product_orders_{col}"), table_name="product_orders")
    op.drop_table("product_orders")
    with op.batch_alter_table("batch_items") as b:
        for name in ("item_ref", "action", "item_kind", "subscription_id"):
            b.drop_column(name)
    op.drop_index(op.f("ix_partner_keys_enterprise_id"), table_name="partner_keys")
    op.drop_table("partner_keys")
