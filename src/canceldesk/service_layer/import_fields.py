"""The field rules of import records (import_validation.py's `Validator` reads each record's fields
through a `FieldReader`): every reader reports its own problem, with the field's path, and returns
the normalised value or None. Messages never repeat a name, an ID number or a password."""
from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from stdnum.cn import ric

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn, validate_document

if TYPE_CHECKING:
    from .import_validation import Validator

MAX_FEN = 10**15           # ¥10 trillion: anything larger is a unit mistake
MAX_BINDINGS = 100
USAGE_FIELDS = ("last_used_on", "previous_price", "price_changed_on", "trial_ended_on")  # optional usage facts
_KEY = re.compile(r"[\x21-\x7e]{1,64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")  # + lone surrogates (not text)
_FAST_MSISDN = re.compile(r"1[3-9][0-9]{9}")
_RIC = re.compile(r"[0-9]{17}[0-9X]")


class FieldReader:
    """Reads the fields of one record; each reader reports its own problem and returns None."""

    __slots__ = ("v", "rec", "base")

    def __init__(self, v: "Validator", rec: dict, base: str):
        self.v, self.rec, self.base = v, rec, base

    def fail(self, field: str, message: str) -> None:
        self.v._err(f"{self.base}.{field}", message)

    # -- value checkers: (value, relative field path) -> normalised value or None (reported) --
    def text_value(self, value, field: str, max_len: int):
        if not isinstance(value, str):
            return self.fail(field, f"must be text (a JSON string) of at most {max_len} characters")
        if not value.strip():
            return self.fail(field, "must not be empty")
        if len(value) > max_len:
            return self.fail(field, f"is {len(value)} characters long; at most {max_len} are allowed")
        if _CONTROL.search(value):
            return self.fail(field, "contains a control character (tab, line break, NUL, …): remove it")
        return value.strip()

    def msisdn_value(self, value, field: str):
        if type(value) is str and (value in self.v.keys["line"]
                                   or (self.v.trusted and _FAST_MSISDN.fullmatch(value))):
            return value  # a number already validated (this pass or the first), in normal form
        try:
            return normalize_msisdn(value, field)
        except InvalidIdentifier as exc:
            return self.fail(field, exc.message)

    def money_value(self, value, field: str):
        if type(value) is int:
            if value < 0:
                return self.fail(field, f"must not be negative ({value}); amounts are fen ≥ 0")
            if value > MAX_FEN:
                return self.fail(field, "is implausibly large: amounts are integer fen (¥1 = 100)")
            return value
        if isinstance(value, bool):
            return self.fail(field, "must be an amount in fen (an integer), not true/false")
        if isinstance(value, float):
            return self.fail(field, f"must be a whole number of fen, not {value!r}: "
                                    "send ¥58.00 as 5800")
        if isinstance(value, str):
            return self.fail(field, "must be a JSON number of fen, not a string: send 5800, not \"5800\"")
        return self.fail(field, "must be an amount in fen (an integer ≥ 0)")

    def date_value(self, value, field: str):
        if isinstance(value, str) and _DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        return self.fail(field, "must be an ISO date like 2026-11-10")

    def item(self, value, field: str, allowed: tuple, required: tuple, what: str):
        """A nested object: reports unknown and missing fields; returns it if both are fine."""
        if not isinstance(value, dict):
            return self.fail(field, f"{what} must be an object with {', '.join(allowed)}")
        good = True
        for k in value:
            if k not in allowed:
                good = False
                self.fail(f"{field}.{str(k)[:40]}", f"unknown field {str(k)[:40]!r}: remove it "
                                                    f"(allowed: {', '.join(allowed)})")
        for k in required:
            if value.get(k) is None:
                good = False
                self.fail(f"{field}.{k}", f"{k} is required")
        return value if good else None

    # -- field readers: field name of this record -> normalised value, None when absent/bad --
    def key(self, name: str):
        value = self.rec.get(name)
        if value is None:
            return None  # required fields were reported by _fields
        if not isinstance(value, str) or not _KEY.fullmatch(value):
            return self.fail(name, "must be 1–64 visible ASCII characters (letters, digits, - _ . …), no spaces")
        return value

    def text(self, name: str, max_len: int):
        value = self.rec.get(name)
        return None if value is None else self.text_value(value, name, max_len)

    def sub_text(self, obj, name: str, sub: str, max_len: int):
        if obj is None or obj.get(sub) is None:
            return None
        return self.text_value(obj[sub], f"{name}.{sub}", max_len)

    def choice(self, name: str, options: tuple):
        value = self.rec.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or value not in options:
            return self.fail(name, f"must be one of {', '.join(options)}")
        return value

    def money(self, name: str, default: int | None = None):
        value = self.rec.get(name)
        return default if value is None else self.money_value(value, name)

    def boolean(self, name: str, default: bool | None = None):
        value = self.rec.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            return self.fail(name, "must be true or false")
        return value

    def date(self, name: str):
        value = self.rec.get(name)
        return None if value is None else self.date_value(value, name)

    def usage(self, name: str) -> dict | None:
        """Usage facts of a subscription: dates and a former price (fen), each optional."""
        obj = self.item(self.rec.get(name), name, USAGE_FIELDS, (), name)
        if obj is None:
            return None
        out = {k: (self.money_value(obj[k], f"{name}.{k}") if k == "previous_price" else self.date_value(obj[k], f"{name}.{k}"))
               for k in USAGE_FIELDS if obj.get(k) is not None}
        return {k: out.get(k) for k in USAGE_FIELDS}

    def msisdn(self, name: str):
        value = self.rec.get(name)
        return None if value is None else self.msisdn_value(value, name)

    def currency(self, name: str):
        value = self.rec.get(name)
        if value is None:
            return None  # the importer uses the pack's currency
        if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
            return self.fail(name, "must be a 3-letter ISO 4217 code in capitals, e.g. CNY")
        return value

    def obj(self, name: str, allowed: tuple, required: tuple):
        value = self.rec.get(name)
        return None if value is None else self.item(value, name, allowed, required, name)

    def document(self, doc_type, number):
        if not isinstance(doc_type, str):
            return self.fail("id_document.type", "must be a document type such as cn_ric, cn_uscc or passport")
        if self.v.trusted and isinstance(number, str) and number.isascii() and number.isalnum() \
                and number == number.upper():
            return number  # validated in the first pass, and in normal form
        if doc_type == "cn_ric" and isinstance(number, str) and _RIC.fullmatch(number):
            if _ric_fast(number, self.v.ric_places):
                return number
            try:
                number = validate_document(doc_type, number, "id_document")
            except InvalidIdentifier as exc:
                return self.fail(exc.field, exc.message)
            self.v.ric_places.add((number[:6], number[6:10]))
            return number
        try:
            return validate_document(doc_type, number, "id_document")
        except InvalidIdentifier as exc:
            return self.fail(exc.field, exc.message)

    def service_password(self, name: str):
        value = self.rec.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            return self.fail(name, "must be a string of exactly 6 digits (quote it: leading zeros count) or null")
        if len(value) != 6 or not value.isascii() or not value.isdigit():
            return self.fail(name, "must be exactly 6 digits (0–9) or null")
        return value

    def contract(self, name: str) -> dict:
        none = {"contract_ends_on": None, "contract_early_termination": None, "contract_fee": 0}
        value = self.rec.get(name)
        if value is None:
            return none
        c = self.item(value, name, ("ends_on", "early_termination"), ("ends_on", "early_termination"),
                      "contract (or null)")
        if c is None:
            return none
        ends = self.date_value(c["ends_on"], f"{name}.ends_on")
        et = c["early_termination"]
        if et == "block":
            return {"contract_ends_on": ends, "contract_early_termination": "block", "contract_fee": 0}
        if not isinstance(et, dict):
            self.fail(f"{name}.early_termination", "must be \"block\" or {\"fee\": <fen>}")
            return none
        fee_obj = self.item(et, f"{name}.early_termination", ("fee",), ("fee",), "early_termination")
        if fee_obj is None:
            return none
        fee = self.money_value(fee_obj["fee"], f"{name}.early_termination.fee")
        return {"contract_ends_on": ends, "contract_early_termination": "fee", "contract_fee": fee or 0}

    def bindings(self, name: str) -> list:
        value = self.rec.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(name, "must be a list of {\"kind\", \"name\"} (or null)")
            return []
        if len(value) > MAX_BINDINGS:
            self.fail(name, f"has {len(value)} entries; at most {MAX_BINDINGS} are allowed")
            return []
        out = []
        for i, b in enumerate(value):
            item = self.item(b, f"{name}[{i}]", ("kind", "name", "name_en"), ("kind", "name"), "a binding")
            if item is None:
                continue
            kind = item["kind"]
            if not isinstance(kind, str) or kind not in ("bank", "payment", "social", "other"):
                self.fail(f"{name}[{i}].kind", "must be one of bank, payment, social, other")
                continue
            text = self.text_value(item["name"], f"{name}[{i}].name", 100)
            text_en = self.text_value(item["name_en"], f"{name}[{i}].name_en", 100) if item.get("name_en") else None
            if text is not None:
                out.append({"kind": kind, "name": text, **({"name_en": text_en} if text_en else {})})
        return out


def _ric_fast(number: str, places: set) -> bool:
    """What `stdnum.cn.ric.validate` checks, for a number already in normal form, once its area
    code has been found valid for the birth year (the costly place look-up): check character and
    birth date. False means "ask validate_document", never "invalid"."""
    if (number[:6], number[6:10]) not in places or number[-1] != ric.calc_check_digit(number):
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return True
