"""One validated Settings object, read from the environment (and an optional .env).

Nothing here connects to anything; bootstrap.py turns Settings into live adapters.
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "canceldesk-demo-secret-do-not-use-in-prod"
# Channels (CHANNELS.md): in demo/test an unset secret falls back to these, so `canceldesk sms` /
# `canceldesk call` can sign like the real platforms; outside demo/test an unset secret turns the
# channel off (404).
DEMO_SMS_WEBHOOK_SECRET = "canceldesk-demo-sms-webhook-secret"
DEMO_IVR_AUTH_TOKEN = "canceldesk-demo-ivr-auth-token"
DEMO_IVR_AGENT_NUMBER = "+864001234567"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANCELDESK_", env_file=".env", extra="ignore")

    env: Literal["demo", "test", "prod"] = "demo"
    database_url: str = "sqlite:///var/canceldesk.db"
    queue_url: str = "embedded"
    secret_key: str = DEFAULT_SECRET
    # Older secrets still accepted for decryption / verification while data is re-encrypted
    # (`canceldesk keys rotate`): comma separated, each `secret` or `kid:secret` (kid is informative).
    old_secret_keys: str = ""
    policy: Literal["cn", "eu", "us-ca"] = "cn"
    sim_failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_latency_ms: int = Field(0, ge=0, le=60_000)
    # Inject the failures into these simulated systems only (comma separated: provisioning, partners,
    # payments, sms, email); empty = all. E.g. CANCELDESK_SIM_FAIL_ONLY=payments fails refunds only.
    sim_fail_only: str = ""
    # Durable execution (docs/durability.md): a transient downstream error is retried after
    # base × 2^(n−1) seconds (jittered) up to `retry_max_attempts` attempts, then escalated; a
    # worker holds a request for `lease_seconds`; a queued request untouched for
    # `queue_grace_seconds` (or a lapsed lease) is resumed by the sweeper.
    retry_base_seconds: float = Field(5.0, gt=0, le=3600)
    retry_max_attempts: int = Field(8, ge=1, le=50)
    lease_seconds: int = Field(120, ge=1, le=24 * 3600)
    queue_grace_seconds: int = Field(900, ge=1, le=7 * 24 * 3600)
    host: str = "127.0.0.1"
    # `make bench` only: adds POST /bench/write (an authenticated one-row write, the HTTP benchmark's
    # second ceiling). Off everywhere else.
    bench_endpoints: bool = False
    port: int = Field(8000, ge=1, le=65535)
    token_ttl_minutes: int = Field(60, ge=1, le=24 * 60)
    otp_ttl_seconds: int = Field(300, ge=30, le=3600)
    otp_max_attempts: int = Field(5, ge=1, le=20)
    otp_lock_minutes: int = Field(15, ge=1, le=24 * 60)
    otp_max_per_hour: int = Field(5, ge=1, le=100)
    # Repeated lockouts of the same subject double the lock, up to this ceiling (brute force over days).
    lock_max_minutes: int = Field(24 * 60, ge=1, le=7 * 24 * 60)
    # Per client address on the login endpoints: generous, many subscribers share one carrier-grade NAT.
    client_rate_limit: int = Field(100, ge=1)
    client_rate_window_seconds: int = Field(600, ge=1)
    # "memory" (one process) or redis://HOST:PORT/DB (shared by every worker and machine).
    rate_limit_url: str = "memory"
    # Per staff account: pre-checks and customer look-ups (a counter serves one person at a time;
    # bulk probing of arbitrary numbers is refused, audited and shown on the dashboard).
    staff_lookup_limit: int = Field(15, ge=1)
    staff_lookup_window_seconds: int = Field(60, ge=1)
    # Sessions end after this long without use (the absolute limit, token_ttl_minutes, stays).
    staff_idle_minutes: int = Field(15, ge=1, le=24 * 60)
    subscriber_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    # An enterprise batch closing more lines than this needs a fresh SMS code and the count typed back.
    fleet_step_up_over: int = Field(5, ge=1, le=1000)
    # Reverse proxies whose X-Forwarded-For is believed (`canceldesk serve --forwarded-allow-ips`); none by default.
    forwarded_allow_ips: str = ""
    # SQLite: how long a writer waits for the lock before the call answers 503 with Retry-After.
    db_busy_timeout_seconds: float = Field(30, gt=0, le=600)
    # Threads of one API process running the (synchronous) endpoints at once. Past a few, more threads add
    # no throughput — writes queue for the database's write lock anyway — and the one holding it waits
    # longer for the GIL among them (bench_http: 6 threads did ~20-60% more than anyio's default 40).
    api_threads: int = Field(12, ge=1, le=200)
    # Session cookie for the pages: Secure unless explicitly turned off (plain-http demo on 127.0.0.1).
    cookie_secure: bool | None = None
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_import_bytes: int = Field(200_000_000, ge=1024)
    max_order_bytes: int = Field(200_000_000, ge=1024)  # TMF622 productOrder bodies (fleet closures)
    log_level: str = "INFO"
    # the operator named on receipts (empty: "canceldesk demo operator" in the reader's language)
    operator_name: str = Field("", max_length=120)
    sms_webhook_secret: str = ""
    ivr_auth_token: str = ""
    ivr_agent_number: str = ""
    public_url: str = ""  # the base URL the outside world calls (signatures are checked against it)

    @property
    def sms_secret(self) -> str | None:
        """The key of the SMS webhook's HMAC; None = the channel is off."""
        return self.sms_webhook_secret or (DEMO_SMS_WEBHOOK_SECRET if self.is_dev else None)

    @property
    def ivr_token(self) -> str | None:
        """The voice platform's auth token (X-Twilio-Signature); None = the channel is off."""
        return self.ivr_auth_token or (DEMO_IVR_AUTH_TOKEN if self.is_dev else None)

    @property
    def ivr_agent(self) -> str:
        return self.ivr_agent_number or DEMO_IVR_AGENT_NUMBER

    @field_validator("queue_url")
    @classmethod
    def _queue(cls, v: str) -> str:
        if v in ("embedded", "immediate", "memory") or v.startswith(("redis://", "rediss://", "sqlite:///")):
            return v
        raise ValueError("CANCELDESK_QUEUE_URL must be 'embedded', 'immediate', 'sqlite:///PATH' or 'redis://HOST:PORT/DB'")

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if v.startswith(("sqlite://", "postgresql+psycopg://", "postgresql://")):
            return v.replace("postgresql://", "postgresql+psycopg://", 1) if v.startswith("postgresql://") else v
        raise ValueError("CANCELDESK_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")

    @field_validator("rate_limit_url")
    @classmethod
    def _rate_limit_url(cls, v: str) -> str:
        if v == "memory" or v.startswith(("redis://", "rediss://")):
            return v
        raise ValueError("CANCELDESK_RATE_LIMIT_URL must be 'memory' or 'redis://HOST:PORT/DB'")

    @model_validator(mode="after")
    def _secret_required_in_prod(self) -> "Settings":
        weak = (not self.secret_key or self.secret_key.strip() != self.secret_key or self.secret_key == DEFAULT_SECRET
                or len(self.secret_key) < 32 or len(set(self.secret_key)) < 8)
        if self.env == "prod" and weak:
            raise ValueError(
                "CANCELDESK_SECRET_KEY must be set to a random value of at least 32 characters when "
                "CANCELDESK_ENV=prod (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.env == "prod" and DEFAULT_SECRET in self.old_secrets:
            raise ValueError("CANCELDESK_OLD_SECRET_KEYS must not contain the demo secret when CANCELDESK_ENV=prod")
        if self.secret_key in self.old_secrets:
            raise ValueError("CANCELDESK_OLD_SECRET_KEYS repeats the current CANCELDESK_SECRET_KEY")
        return self

    @property
    def old_secrets(self) -> list[str]:
        """The old secrets, oldest last; an optional `kid:` prefix is dropped (key ids are derived)."""
        return [s.strip().split(":", 1)[-1] for s in self.old_secret_keys.split(",") if s.strip()]

    @property
    def session_cookie_secure(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else not self.is_dev

    @cached_property
    def is_dev(self) -> bool:
        return self.env in ("demo", "test")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
