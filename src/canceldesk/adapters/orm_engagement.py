"""Tables of what people say and are offered: complaints and appeals, SMS/IVR channel state, the
assistant's conversations, usage facts and save offers. Reach them as `orm.<table>` (orm.py
re-exports them)."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Date, ForeignKey, Index, Integer, String, Table

from .orm_types import Encrypted, UTCDateTime, metadata

# --- complaints and appeals on a request (migration 0005) ---------------------------------------
complaints = Table(
    "complaints", metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),        # complaint | appeal
    Column("text", Encrypted, nullable=False),          # free text may carry personal data
    Column("status", String(16), nullable=False, index=True),  # open | resolved
    Column("filed_by", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(100)),
    Column("resolution", Encrypted),
)


# Channels (SMS, IVR): inbound message ids seen (idempotency, per-number limits) and conversation
# state (the 0000 list, a pending confirmation, the IVR menu per CallSid) — in the database, so a
# restart or a second worker loses nothing.
channel_inbound = Table(
    "channel_inbound", metadata,
    Column("channel", String(8), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("msisdn", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_channel_inbound_msisdn_received", "msisdn", "received_at"),
)

channel_conversations = Table(
    "channel_conversations", metadata,
    Column("key", String(160), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("msisdn", String(32), nullable=False),
    Column("lang", String(8), nullable=False),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, index=True),
)


# --- assistant and insights: conversations, usage facts, save offers (migration 0010) ------------
assistant_conversations = Table(
    "assistant_conversations", metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("state", JSON, nullable=False, default=dict),   # the pending proposal / the question asked
    Column("turns", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, index=True),
)

subscription_usage = Table(
    "subscription_usage", metadata,
    Column("subscription_id", String(64), ForeignKey("subscriptions.id"), primary_key=True),
    Column("last_used_on", Date),                       # from the import: the last day the service was used
    Column("previous_price", BigInteger),               # fen, before the latest price change
    Column("price_changed_on", Date),
    Column("trial_ended_on", Date),                     # a free or discounted trial that turned into a charge
)

save_offers = Table(
    "save_offers", metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("subscription_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),         # the ending the offer sat beside
    Column("offer", String(40), nullable=False),        # the pack's offer code
    Column("status", String(16), nullable=False, index=True),  # offered | accepted | declined
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("decided_at", UTCDateTime),
)
