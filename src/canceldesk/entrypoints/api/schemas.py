"""Request bodies of the v1 API (…Create) — unknown fields are refused with a clear message."""
from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

FREE_TEXT = frozenset({"reason"})  # may hold line breaks and tabs; every other field may not


class Strict(BaseModel):
    """Unknown fields are refused; no text field may carry control characters (NUL, escape
    sequences, …: PostgreSQL refuses NUL and terminals obey escapes), free text excepted for
    line breaks and tabs."""
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value, info):
        allowed = "\n\r\t" if info.field_name in FREE_TEXT else ""
        for text in (value if isinstance(value, list) else [value]):
            if isinstance(text, str) and any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed
                                             for ch in text):
                raise ValueError("control characters are not allowed")
        return value


class OtpCreate(Strict):
    msisdn: str = Field(max_length=32, examples=["13800138000"])


class TokenCreate(Strict):
    msisdn: str = Field(max_length=32)
    otp: str = Field(max_length=12)


class StaffLogin(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class Document(Strict):
    type: str = Field(max_length=40)
    number: str = Field(max_length=40)


class PrecheckCreate(Strict):
    kind: str = Field(max_length=32, examples=["close_line"])
    msisdn: str = Field(max_length=32)
    subscription_id: str | None = Field(None, max_length=64)
    in_person_document: Document | None = None


class RequestCreate(Strict):
    kind: str = Field(max_length=32)
    msisdn: str = Field(max_length=32)
    subscription_id: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=500)
    acknowledged_warnings: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)
    in_person_document: Document | None = None


class Verification(Strict):
    id_last6: str | None = Field(None, max_length=12)
    service_password: str | None = Field(None, max_length=32)


class ConfirmCreate(Strict):
    verification: Verification | None = None


class ReviewDecision(Strict):
    approve: bool
    reason: str | None = Field(None, max_length=500)


class CustomerSearch(Strict):
    msisdn: str | None = Field(None, max_length=32)
    id_document: Document | None = None
