"""Request bodies of the v1 API (…Create) — unknown fields are refused with a clear message."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OtpCreate(Strict):
    msisdn: str = Field(max_length=32, examples=["13800138000"])


class TokenCreate(Strict):
    msisdn: str = Field(max_length=32)
    otp: str = Field(max_length=12)


class StaffLogin(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class PrecheckCreate(Strict):
    kind: str = Field(max_length=32, examples=["close_line"])
    msisdn: str = Field(max_length=32)
    subscription_id: str | None = Field(None, max_length=64)
    in_person_document: dict | None = None


class Document(Strict):
    type: str = Field(max_length=40)
    number: str = Field(max_length=40)


class RequestCreate(Strict):
    kind: str = Field(max_length=32)
    msisdn: str = Field(max_length=32)
    subscription_id: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=500)
    acknowledged_warnings: list[str] = Field(default_factory=list, max_length=20)
    in_person_document: Document | None = None


class Verification(Strict):
    id_last6: str | None = Field(None, max_length=12)
    service_password: str | None = Field(None, max_length=32)


class ConfirmCreate(Strict):
    verification: Verification | None = None


class ReviewDecision(Strict):
    approve: bool
    reason: str | None = Field(None, max_length=500)
