"""Tables of enterprise batches and of the partner API (keys, TMF622 product orders, cancellations,
hubs). Reach them as `orm.<table>` (orm.py re-exports them)."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from .orm_types import Encrypted, UTCDateTime, metadata

# --- enterprise batches (migration 0005) -------------------------------------------------------
batches = Table(
    "batches", metadata,
    Column("id", String(36), primary_key=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("phase", String(16), nullable=False),       # prechecking | prechecked | submitting | submitted
    Column("size", Integer, nullable=False),
    Column("reason", Text),
    Column("acknowledged_warnings", JSON, nullable=False, default=list),
)

batch_items = Table(
    "batch_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(36), ForeignKey("batches.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("msisdn", String(11), nullable=False),
    Column("eligible", Boolean),                        # NULL until pre-checked
    Column("blockers", JSON, nullable=False, default=list),
    Column("warnings", JSON, nullable=False, default=list),
    Column("refund", BigInteger),
    Column("request_id", String(36)),
    Column("tracking_no", String(32)),
    Column("error_code", String(40)),
    Column("error_message", Text),
    # a TMF622 order item (migration 0009): its id in the order, action, request kind, subscription
    Column("item_ref", String(64)),
    Column("action", String(8)),
    Column("item_kind", String(20)),
    Column("subscription_id", String(64)),
    Index("ix_batch_items_batch_position", "batch_id", "position", unique=True),
)


# --- partner API: keys, TMF622 product orders (a batch), cancellations, hubs (migration 0009) -------
partner_keys = Table(
    "partner_keys", metadata,
    Column("id", String(16), primary_key=True),          # the visible part of the key (cdpk_<id>_…)
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),   # keyed HMAC of the whole key (key ring)
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("revoked_by", String(100)),
)

product_orders = Table(
    "product_orders", metadata,
    Column("id", String(36), ForeignKey("batches.id"), primary_key=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("state", String(24), nullable=False, index=True),
    Column("order_date", UTCDateTime, nullable=False, index=True),
    Column("completion_date", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("external_id", String(200)),
    Column("description", Text),
    Column("category", String(100)),
    Column("priority", String(10)),
    Column("requested_completion_date", UTCDateTime),
    Column("related_party", JSON, nullable=False, default=list),
    Column("cancellation_date", UTCDateTime),
    Column("cancellation_reason", Text),
)

product_order_cancels = Table(
    "product_order_cancels", metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("product_orders.id"), nullable=False, index=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("state", String(24), nullable=False),
    Column("cancellation_reason", Text),
    Column("requested_cancellation_date", UTCDateTime),
    Column("effective_cancellation_date", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

tmf_hubs = Table(
    "tmf_hubs", metadata,
    Column("id", String(32), primary_key=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("callback", String(200), nullable=False),
    Column("query", Text),
    Column("secret", Encrypted, nullable=False),          # signs the callbacks (shown once)
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
)
