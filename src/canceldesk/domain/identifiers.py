"""Identifiers: mainland mobile numbers, resident ID (GB 11643-1999), company credit codes.

Validation uses the real numbering plan (`phonenumbers`) and the ISO 7064 checksums of
`python-stdnum`, never a bare regular expression.
"""
from __future__ import annotations

import unicodedata

import phonenumbers
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError


class InvalidIdentifier(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def _fold(value: str) -> str:
    """Full-width to half-width, strip the usual separators."""
    return unicodedata.normalize("NFKC", value).strip()


def normalize_msisdn(value: object, field: str = "msisdn") -> str:
    """Return the 11-digit national form of a mainland mobile number.

    Accepts `+86`, `0086`, `86`, spaces, dashes and full-width digits.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(field, "a mobile number is required, e.g. 13800138000")
    if len(value) > 32:
        raise InvalidIdentifier(field, "a mobile number has 11 digits, e.g. 13800138000")
    raw = _fold(value).replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if raw.startswith("0086"):
        raw = "+86" + raw[4:]
    if not raw.lstrip("+").isdigit() or not raw.isascii():
        raise InvalidIdentifier(field, f"'{value[:20]}' is not a phone number: use digits only, e.g. 13800138000")
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidIdentifier(field, f"'{value[:20]}' is not a phone number, e.g. 13800138000") from None
    national = str(parsed.national_number)
    if parsed.country_code != 86 or len(national) != 11:
        raise InvalidIdentifier(field, "only mainland China mobile numbers (11 digits, starting with 1) are served")
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidIdentifier(field, f"{national} is not an allocated mainland mobile number range")
    return national


def validate_resident_id(value: object, field: str = "id_document.number") -> str:
    """Validate a resident identity card number (17 digits + ISO 7064 MOD 11-2 check)."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidIdentifier(field, "a resident ID number has 18 characters")
    try:
        return ric.validate(_fold(value).upper())
    except StdnumError as exc:
        raise InvalidIdentifier(field, f"not a valid resident ID number ({exc.message.lower()}); check all 18 characters") from None


def validate_uscc(value: object, field: str = "id_document.number") -> str:
    """Validate a unified social credit code (统一社会信用代码)."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidIdentifier(field, "a unified social credit code has 18 characters")
    try:
        return uscc.validate(_fold(value).upper())
    except StdnumError as exc:
        raise InvalidIdentifier(field, f"not a valid unified social credit code ({exc.message.lower()})") from None


def validate_passport(value: object, field: str = "id_document.number") -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(field, "a passport number is required")
    v = _fold(value).upper().replace(" ", "")
    if not (5 <= len(v) <= 20) or not v.isascii() or not v.isalnum():
        raise InvalidIdentifier(field, "a passport number has 5–20 letters and digits")
    return v


DOCUMENT_TYPES = {
    "cn_ric": validate_resident_id,
    "cn_uscc": validate_uscc,
    "passport": validate_passport,
    "hk_macau_permit": validate_passport,
    "taiwan_permit": validate_passport,
    "foreign_permanent_resident": validate_passport,
}


def validate_document(doc_type: object, number: object, field: str = "id_document") -> str:
    if doc_type not in DOCUMENT_TYPES:
        raise InvalidIdentifier(f"{field}.type", f"unknown document type {str(doc_type)[:30]!r}; use one of {', '.join(DOCUMENT_TYPES)}")
    return DOCUMENT_TYPES[doc_type](number, f"{field}.number")


def mask_msisdn(msisdn: str | None) -> str:
    if not msisdn:
        return ""
    return msisdn[:3] + "****" + msisdn[-4:] if len(msisdn) >= 8 else "****"


def mask_id(number: str | None) -> str:
    """The one mask of an identity document: at most a third of it stays visible, whatever its
    length — `110************02X` (18), `E1******8` (a 9-character passport), `*****` (5).

    A third, split between the head and the tail (the tail never longer than the head): the
    trailing characters of a document are an online second factor (`id_last6`), and a short
    passport must not be shown in full."""
    if not number:
        return ""
    visible = len(number) // 3
    tail = visible // 2
    head = visible - tail
    return number[:head] + "*" * (len(number) - visible) + (number[-tail:] if tail else "")


def mask_name(name: str | None) -> str:
    """`张*`, `李**`, `J*** S****`."""
    if not name:
        return ""
    if name.isascii():
        return " ".join(p[:1] + "*" * (len(p) - 1) for p in name.split())
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def id_last6(number: str) -> str:
    return _fold(number).upper()[-6:]
