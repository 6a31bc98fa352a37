"""Tables and the imperative mapping of the domain's dataclasses onto them.

Mapping is done once, by `start_mappers()` (called from bootstrap), never at import time.
All tables are reached as `orm.<table>`: the metadata and column types live in orm_types.py, the
enterprise and partner tables in orm_enterprise.py, the conversation tables (complaints, channels,
assistant, usage facts, save offers) in orm_engagement.py; this module re-exports them.
"""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import relationship

from canceldesk.domain import lifecycle, model

from .orm_engagement import (assistant_conversations, channel_conversations, channel_inbound,  # noqa: F401
                             complaints, save_offers, subscription_usage)
from .orm_enterprise import (batch_items, batches, partner_keys, product_order_cancels, product_orders,  # noqa: F401
                             tmf_hubs)
from .orm_types import Encrypted, UTCDateTime, mapper_registry, metadata  # noqa: F401


customers = Table(
    "customers", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Encrypted, nullable=False),
    Column("id_doc_type", String(32), nullable=False),
    Column("id_doc_number", Encrypted, nullable=False),
    Column("id_doc_digest", String(64), nullable=False, index=True),
    Column("anonymised_at", UTCDateTime),
)

enterprise_admins = Table(
    "enterprise_admins", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enterprise_id", String(64), ForeignKey("customers.id"), nullable=False, index=True),
    Column("msisdn", String(11), nullable=False, index=True),
    Column("name", Encrypted, nullable=False),
)

products = Table(
    "products", metadata,
    Column("code", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, default="CNY"),
    Column("period", String(16), nullable=False),
    Column("unsubscribe_effect", String(16), nullable=False),
    Column("refund", String(16), nullable=False),
    Column("partner", String(64)),
)

lines = Table(
    "lines", metadata,
    Column("msisdn", String(11), primary_key=True),
    Column("customer_id", String(64), ForeignKey("customers.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("service_password_hash", String(200)),
    Column("cash_balance", BigInteger, nullable=False, default=0),
    Column("gift_balance", BigInteger, nullable=False, default=0),
    Column("deposit", BigInteger, nullable=False, default=0),
    Column("unbilled_usage", BigInteger, nullable=False, default=0),
    Column("arrears", BigInteger, nullable=False, default=0),
    Column("installment_due", BigInteger, nullable=False, default=0),
    Column("primary_msisdn", String(11), index=True),
    Column("port_out_pending", Boolean, nullable=False, default=False),
    Column("contract_ends_on", Date),
    Column("contract_early_termination", String(8)),
    Column("contract_fee", BigInteger, nullable=False, default=0),
    Column("bindings", JSON, nullable=False, default=list),
    Column("currency", String(3), nullable=False, default="CNY"),
    Column("closed_at", UTCDateTime),
    Column("frozen_until", UTCDateTime),
    Column("former_customer_id", String(64), index=True),
    Column("version", Integer, nullable=False, default=1),
)

subscriptions = Table(
    "subscriptions", metadata,
    Column("id", String(64), primary_key=True),
    Column("msisdn", String(11), ForeignKey("lines.msisdn"), nullable=False, index=True),
    Column("product_code", String(64), ForeignKey("products.code"), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("auto_renew", Boolean, nullable=False, default=True),
    Column("status", String(16), nullable=False),
    Column("started_on", Date),
    Column("access_ends_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("renewal_postponed", Boolean, nullable=False, default=False),
    Column("last_reminder_for", Date),
)

requests = Table(
    "requests", metadata,
    Column("id", String(36), primary_key=True),
    Column("tracking_no", String(32), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("msisdn", String(11), nullable=False, index=True),
    Column("subscription_id", String(64)),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("requested_by", String(100), nullable=False),
    Column("status", String(24), nullable=False, index=True),
    Column("reason", Text),
    # Set while the request is open, NULL once terminal: the unique index lets exactly one open
    # request hold a target, on SQLite and PostgreSQL alike (NULLs never collide).
    Column("open_target", String(80), unique=True),
    Column("idempotency_key", String(200)),
    Column("body_hash", String(64)),
    Column("impact", JSON, nullable=False, default=dict),
    Column("acknowledged_warnings", JSON, nullable=False, default=list),
    Column("reject_codes", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("updated_at", UTCDateTime),
    Column("deadline_at", UTCDateTime),
    Column("completed_at", UTCDateTime),
    Column("failure", Text),
    Column("batch_id", String(36), index=True),
    Column("lang", String(5)),  # the requester's language: messages about the request speak it
    Index("ix_requests_idem", "requested_by", "idempotency_key", unique=True),
)

request_events = Table(
    "request_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(24)),
    Column("to_status", String(24), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("reason", Text),
)

# The step log is read and written with Core only (adapters/engine_store.py, Repository.steps): StepRecord
# is a plain dataclass, not mapped, so the engine's many records cost no ORM instrumentation.
execution_steps = Table(
    "execution_steps", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("step", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("error", Text),
    Column("result", JSON),
    Index("ix_steps_request_step", "request_id", "step", unique=True),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False, index=True),
    Column("settlement", String(32), nullable=False),  # settle | refund_payment
    Column("account", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("memo", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

receipts = Table(
    "receipts", metadata,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("tracking_no", String(32), nullable=False, unique=True),
    Column("verification_code", String(40), nullable=False, unique=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("body", JSON, nullable=False),
)

payments = Table(
    "payments", metadata,
    Column("idempotency_key", String(100), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(64), nullable=False),
    Column("reference", String(64)),
    Column("at", UTCDateTime, nullable=False),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("to", String(200), nullable=False),
    Column("event", String(32), nullable=False),
    Column("ref", String(32)),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime),   # delivery claim / retry time (migration 0004)
    Column("last_error", Text),
    Index("ix_outbox_pending", "sent_at", "id"),
)

otp_codes = Table(
    "otp_codes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("msisdn", String(11), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
    Column("failed_attempts", Integer, nullable=False, default=0),
)

login_locks = Table(
    "login_locks", metadata,
    Column("subject", String(80), primary_key=True),  # "otp:138..." or "stepup:C001"
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    # security (migration 0003): lockouts in a row; each one doubles the next lock (capped)
    Column("lockouts", Integer, nullable=False, default=0, server_default="0"),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("principal_kind", String(24), nullable=False),  # subscriber | staff
    Column("principal_id", String(64), nullable=False, index=True),
    Column("login_msisdn", String(11)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_seen_at", UTCDateTime),  # security 2 (migration 0006): idle sessions end
)

staff_users = Table(
    "staff_users", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(24), nullable=False),  # agent | reviewer | admin | enterprise_admin
    Column("store", String(64)),
    Column("enterprise_id", String(64)),
    Column("display_name", String(100), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("event", String(64), nullable=False),
    Column("subject", String(100)),
    Column("details", JSON, nullable=False, default=dict),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # security (migration 0003): gap-free sequence and the id of the key that MAC'd the row
    Column("seq", BigInteger, unique=True),
    Column("key_id", String(16)),
)

# security (migration 0003): the chain's last seq and hash, MAC'd — cutting rows off the end shows
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("mac", String(64), nullable=False),
)

# --- durable execution: leases, escalations, renewals, scheduled duties (migration 0004) ---------
execution_leases = Table(
    "execution_leases", metadata,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("owner", String(64)),                        # the run holding it; NULL: queued / waiting to retry
    Column("lease_until", UTCDateTime, nullable=False, index=True),
    Column("resumes", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
)

escalations = Table(
    "escalations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("reason", String(16), nullable=False),       # failed | overdue
    Column("level", Integer, nullable=False),
    Column("step", String(32)),
    Column("detail", Text),
    Column("expected_by", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("resolved_at", UTCDateTime),
    Index("ix_escalations_request_reason_level", "request_id", "reason", "level", unique=True),
)

renewals = Table(
    "renewals", metadata,
    Column("key", String(120), primary_key=True),        # "<subscription id>:<period_end renewed>"
    Column("subscription_id", String(64), ForeignKey("subscriptions.id"), nullable=False, index=True),
    Column("msisdn", String(11), nullable=False),
    Column("period_end", Date, nullable=False),
    Column("new_period_start", Date),
    Column("new_period_end", Date),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),       # pending | charged | declined
    Column("attempts", Integer, nullable=False, default=0),
    Column("payment_ref", String(64)),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("charged_at", UTCDateTime),
)

renewal_ledger = Table(
    "renewal_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("renewal_key", String(120), ForeignKey("renewals.key"), nullable=False, index=True),
    Column("account", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("memo", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

duty_runs = Table(
    "duty_runs", metadata,
    Column("name", String(40), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("outcome", JSON),
)

# security 2 (migration 0006): an admin login bound to a number canceldesk closed or re-issued stays
# ended even when a later import names the number again; the enterprise must name another admin.
ended_admin_logins = Table(
    "ended_admin_logins", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enterprise_id", String(64), nullable=False),
    Column("msisdn", String(11), nullable=False, index=True),
    Column("ended_at", UTCDateTime, nullable=False),
    Column("reason", String(16), nullable=False),  # closed | reissued
)

# security 2 (migration 0006): which customers a staff member verified in person, and when — an
# agent sees a customer's lines and requests only after checking their ID in person.
staff_verifications = Table(
    "staff_verifications", metadata,
    Column("actor", String(100), primary_key=True),
    Column("customer_id", String(64), primary_key=True),
    Column("verified_at", UTCDateTime, nullable=False),
)


# A line's status changes, append-only (written by the line's transitions, domain/model.py).
line_history = Table(
    "line_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("msisdn", String(11), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("request_id", String(36), index=True),
    Column("reason", String(100)),
)


def func_advisory_lock():
    """PostgreSQL transaction-scoped advisory lock that keeps the audit chain linear."""
    from sqlalchemy import func
    return func.pg_advisory_xact_lock(727_001)


_started = False


def start_mappers() -> None:
    global _started
    if _started:
        return
    _started = True
    mapper_registry.map_imperatively(model.EnterpriseAdmin, enterprise_admins)
    mapper_registry.map_imperatively(model.Customer, customers, properties={
        "admins": relationship(model.EnterpriseAdmin, cascade="all, delete-orphan", lazy="selectin"),
    })
    mapper_registry.map_imperatively(model.Product, products)
    mapper_registry.map_imperatively(model.Line, lines, version_id_col=lines.c.version)
    mapper_registry.map_imperatively(model.Subscription, subscriptions)
    mapper_registry.map_imperatively(lifecycle.TimelineEntry, request_events)
    mapper_registry.map_imperatively(lifecycle.Request, requests, properties={
        "timeline": relationship(lifecycle.TimelineEntry, order_by=request_events.c.id,
                                 cascade="all, delete-orphan", lazy="selectin"),
    })
    _map_line_history()


def _map_line_history() -> None:
    """Line.history is not a mapped collection: the transitions append to it and adapters/line_history.py
    writes the new entries at flush; a loaded line's list starts empty. Read it with Repository.line_history."""
    mapper_registry.map_imperatively(model.LineHistoryEntry, line_history)
    from . import line_history as _history
    _history.install()
