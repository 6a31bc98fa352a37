"""One validated Settings object, read from the environment (and an optional .env).

Nothing here connects to anything; bootstrap.py turns Settings into live adapters.
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "canceldesk-demo-secret-do-not-use-in-prod"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANCELDESK_", env_file=".env", extra="ignore")

    env: Literal["demo", "test", "prod"] = "demo"
    database_url: str = "sqlite:///var/canceldesk.db"
    queue_url: str = "embedded"
    secret_key: str = DEFAULT_SECRET
    # Older keys still accepted for decryption / verification, "kid:secret" comma separated.
    old_secret_keys: str = ""
    policy: Literal["cn", "eu", "us-ca"] = "cn"
    sim_failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    sim_latency_ms: int = Field(0, ge=0, le=60_000)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    token_ttl_minutes: int = Field(60, ge=1, le=24 * 60)
    otp_ttl_seconds: int = Field(300, ge=30, le=3600)
    otp_max_attempts: int = Field(5, ge=1, le=20)
    otp_lock_minutes: int = Field(15, ge=1, le=24 * 60)
    otp_max_per_hour: int = Field(5, ge=1, le=100)
    client_rate_limit: int = Field(100, ge=1)
    client_rate_window_seconds: int = Field(600, ge=1)
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_import_bytes: int = Field(200_000_000, ge=1024)
    log_level: str = "INFO"

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

    @model_validator(mode="after")
    def _secret_required_in_prod(self) -> "Settings":
        if self.env == "prod" and (not self.secret_key or self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "CANCELDESK_SECRET_KEY must be set to a random value of at least 32 characters when "
                "CANCELDESK_ENV=prod (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return self

    @cached_property
    def is_dev(self) -> bool:
        return self.env in ("demo", "test")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
