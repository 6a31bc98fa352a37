"""Validation of import records (CONTRACT.md, "Import document"): pure Python, no database.

The importer (service_layer/importer.py) streams records through a `Validator` twice: first to
find every problem (nothing is written if there is one), then, in "trusted" mode, to turn the
same records into table rows while writing.

Paths in problems name the record and field the operator has to fix:

* JSON document: ``lines[3].msisdn``, ``customers[0].id_document.number``,
  ``lines[2].bindings[1].name``, ``products`` (a section that is not a list), ``foo`` (an
  unknown top-level key), ``""`` (the document as a whole, e.g. invalid JSON);
* JSON Lines: ``line 17.msisdn`` (17 is the 1-based line number in the file), ``line 17`` for a
  line that is not a JSON object, ``line 17.type`` for a missing or unknown record type.

Field rules beyond the contract's example (its extensions and defaults):

* product: ``partner`` (text ≤ 64 or null), ``currency`` (3 capital letters, default CNY);
* line: ``installment_due`` (fen, default 0); the other money fields default to 0 when omitted;
  ``port_out_pending`` defaults to false, ``bindings`` to an empty list;
* subscription: ``started_on`` (date or null, not after ``period_start``); ``status`` is not
  accepted: an imported subscription is active;
* keys (product code, customer id, subscription id) are 1–64 visible ASCII characters.

Messages never repeat a name, an ID number or a password.
"""
from __future__ import annotations

import json
import re
from datetime import date
from typing import IO, Callable, Iterable, Iterator

from stdnum.cn import ric

from canceldesk.domain.identifiers import InvalidIdentifier, normalize_msisdn, validate_document

TYPES = ("product", "customer", "line", "subscription")  # also the write order (foreign keys)
RANK = {t: i for i, t in enumerate(TYPES)}
SECTIONS = {"products": "product", "customers": "customer", "lines": "line", "subscriptions": "subscription"}
SECTION_OF = {t: s for s, t in SECTIONS.items()}
KEY_FIELD = {"product": "code", "customer": "id", "line": "msisdn", "subscription": "id"}
NOUN = {"product": "product", "customer": "customer", "line": "line (msisdn)", "subscription": "subscription"}

MAX_ERRORS = 1000
MAX_FEN = 10**15           # ¥10 trillion: anything larger is a unit mistake
MAX_BINDINGS = 100
MONEY = ("cash_balance", "gift_balance", "deposit", "unbilled_usage", "arrears", "installment_due")

PRODUCT_FIELDS = ("code", "kind", "name", "price", "period", "unsubscribe_effect", "refund", "partner", "currency")
PRODUCT_REQUIRED = ("code", "kind", "name", "price", "period", "unsubscribe_effect", "refund")
CUSTOMER_FIELDS = ("id", "kind", "name", "id_document", "admins")
CUSTOMER_REQUIRED = ("id", "kind", "name", "id_document")
LINE_FIELDS = ("msisdn", "customer_id", "status", "service_password", *MONEY, "primary_msisdn",
               "port_out_pending", "contract", "bindings")
LINE_REQUIRED = ("msisdn", "customer_id", "status")
SUBSCRIPTION_FIELDS = ("id", "msisdn", "product", "period_start", "period_end", "auto_renew", "started_on", "usage")
USAGE_FIELDS = ("last_used_on", "previous_price", "price_changed_on", "trial_ended_on")  # optional usage facts
SUBSCRIPTION_REQUIRED = ("id", "msisdn", "product", "period_start", "period_end", "auto_renew")

_KEY = re.compile(r"[\x21-\x7e]{1,64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")  # + lone surrogates (not text)
_FAST_MSISDN = re.compile(r"1[3-9][0-9]{9}")
_RIC = re.compile(r"[0-9]{17}[0-9X]")

_SPECIAL_UNKNOWN = {
    ("subscription", "status"): "status is not imported: an imported subscription is active; "
                                "end it through a request instead — remove this field",
}


class Problems:
    """Every problem is counted; the first MAX_ERRORS are kept with their path."""

    def __init__(self, cap: int = MAX_ERRORS):
        self.cap = cap
        self.errors: list[dict] = []
        self.count = 0

    def add(self, path: str, message: str) -> None:
        self.count += 1
        if len(self.errors) < self.cap:
            self.errors.append({"path": path, "message": message})

    def __bool__(self) -> bool:
        return self.count > 0


class _Bad(Exception):
    """Internal: a field is wrong (already reported)."""


# A look-up of keys that already exist in the database: (record type, keys) -> existing keys.
Lookup = Callable[[str, set], set]


class Validator:
    """Checks records one at a time and turns them into table rows.

    `check()` returns the row (a dict) or None when the record has problems. Unless `trusted`,
    it also remembers each type's keys — the only state kept, so memory grows with the number of
    records, not their size — to report duplicates and to resolve references in `finish()`,
    where references to records absent from the input are looked up in the database.

    `trusted` (the write pass, over input already validated) skips the bookkeeping and the
    costly checksums of identifiers that are already in their normal form.
    """

    def __init__(self, problems: Problems | None = None, *, jsonl: bool = False, trusted: bool = False):
        self.problems = problems if problems is not None else Problems()
        self.jsonl = jsonl
        self.trusted = trusted
        self.keys: dict[str, dict[str, int]] = {t: {} for t in TYPES}  # key -> position first seen
        self.pending: list[tuple[str, str, str, int, str]] = []  # (target, key, rtype, pos, field)
        self.counts = {t: 0 for t in TYPES}
        self.ric_places: set[tuple[str, str]] = set()  # (area code, birth year) seen valid
        self.ordered = True  # records came in write order (products, customers, lines, subscriptions)
        self._rank = 0

    # ---- paths and errors -------------------------------------------------------------------
    def base(self, rtype: str, pos: int) -> str:
        return f"line {pos}" if self.jsonl else f"{SECTION_OF[rtype]}[{pos}]"

    def _err(self, path: str, message: str) -> None:
        self.problems.add(path, message)

    # ---- records --------------------------------------------------------------------------
    def check(self, rtype: str, rec: object, pos: int) -> dict | None:
        self.counts[rtype] += 1
        if RANK[rtype] < self._rank:
            self.ordered = False
        self._rank = max(self._rank, RANK[rtype])
        base = self.base(rtype, pos)
        before = self.problems.count
        if not isinstance(rec, dict):
            self._err(base, f"a {rtype} must be a JSON object {{...}}")
            return None
        # The row has None for every bad field; its key and references still count, so one bad
        # field does not also make every record that refers to this one "missing".
        row = getattr(self, f"_{rtype}")(rec, base)
        if not self.trusted:
            key = row[KEY_FIELD[rtype]]
            if key is not None:
                self._remember(rtype, key, pos, f"{base}.{KEY_FIELD[rtype]}")
            self._refs(rtype, row, pos)
        return row if self.problems.count == before else None

    def _remember(self, rtype: str, key: str, pos: int, path: str) -> None:
        seen = self.keys[rtype]
        first = seen.get(key)
        if first is not None:
            self._err(path, f"duplicate {NOUN[rtype]} {key!r}: already defined at {self.base(rtype, first)}; "
                            f"keep one record per {KEY_FIELD[rtype]}")
        else:
            seen[key] = pos

    def _refs(self, rtype: str, row: dict, pos: int) -> None:
        wanted: list[tuple[str, str | None, str]] = []
        if rtype == "line":
            wanted = [("customer", row["customer_id"], "customer_id"), ("line", row["primary_msisdn"], "primary_msisdn")]
        elif rtype == "subscription":
            wanted = [("line", row["msisdn"], "msisdn"), ("product", row["product_code"], "product")]
        for target, key, field in wanted:
            if key is not None and key not in self.keys[target]:
                self.pending.append((target, key, rtype, pos, field))

    def finish(self, lookup: Lookup | None = None) -> Problems:
        """Resolve references not defined earlier in the input: later in it, or in the database."""
        unresolved: dict[str, set] = {t: set() for t in TYPES}
        for target, key, *_ in self.pending:
            if key not in self.keys[target]:
                unresolved[target].add(key)
        in_db = {t: (lookup(t, keys) if lookup and keys else set()) for t, keys in unresolved.items()}
        for target, key, rtype, pos, field in self.pending:
            if key in self.keys[target] or key in in_db[target]:
                continue
            hint = {"customer": "add the customer to the import or fix customer_id",
                    "line": "add the line to the import or fix the number",
                    "product": "add the product to the import or fix the product code"}[target]
            self._err(f"{self.base(rtype, pos)}.{field}",
                      f"no {target} {key!r} in this import or in the database: {hint}")
        self.pending = []
        return self.problems

    def _fields(self, rtype: str, rec: dict, base: str, allowed: tuple, required: tuple) -> None:
        for k in rec:
            if k not in allowed:
                msg = _SPECIAL_UNKNOWN.get((rtype, k)) or \
                    f"unknown field {str(k)[:40]!r}: remove it (a {rtype} has {', '.join(allowed)})"
                self._err(f"{base}.{str(k)[:40]}", msg)
        for k in required:
            if rec.get(k) is None:
                self._err(f"{base}.{k}", f"{k} is required")

    def _product(self, rec: dict, base: str) -> dict:
        self._fields("product", rec, base, PRODUCT_FIELDS, PRODUCT_REQUIRED)
        f = _FieldReader(self, rec, base)
        name = f.obj("name", ("zh", "en"), ("zh", "en"))
        row = {
            "code": f.key("code"), "kind": f.choice("kind", ("plan", "vas", "membership")),
            "name_zh": f.sub_text(name, "name", "zh", 200), "name_en": f.sub_text(name, "name", "en", 200),
            "price": f.money("price"), "period": f.choice("period", ("day", "week", "month", "quarter", "year")),
            "unsubscribe_effect": f.choice("unsubscribe_effect", ("end_of_cycle", "immediate")),
            "refund": f.choice("refund", ("none", "prorated")),
            "partner": f.text("partner", 64), "currency": f.currency("currency"),
        }
        return row

    def _customer(self, rec: dict, base: str) -> dict:
        self._fields("customer", rec, base, CUSTOMER_FIELDS, CUSTOMER_REQUIRED)
        f = _FieldReader(self, rec, base)
        kind = f.choice("kind", ("person", "enterprise"))
        doc = f.obj("id_document", ("type", "number"), ("type", "number"))
        doc_type = number = None
        if doc is not None and doc.get("type") is not None and doc.get("number") is not None:
            doc_type = doc["type"]
            number = f.document(doc_type, doc["number"])
            if number is not None and kind == "enterprise" and doc_type != "cn_uscc":
                f.fail("id_document.type", "an enterprise is identified by its unified social credit code: use cn_uscc")
            elif number is not None and kind == "person" and doc_type == "cn_uscc":
                f.fail("id_document.type", "cn_uscc is a company credit code; a person needs cn_ric, passport, "
                                           "hk_macau_permit, taiwan_permit or foreign_permanent_resident")
        admins: list[tuple[str, str]] = []
        raw_admins = rec.get("admins")
        if raw_admins is not None:
            if kind is not None and kind != "enterprise":
                f.fail("admins", "only an enterprise has admins: remove admins or make the customer an enterprise")
            elif not isinstance(raw_admins, list):
                f.fail("admins", "admins must be a list of {\"msisdn\", \"name\"}")
            else:
                seen: set[str] = set()
                for i, a in enumerate(raw_admins):
                    admin = f.item(a, f"admins[{i}]", ("msisdn", "name"), ("msisdn", "name"), "an admin")
                    if admin is None:
                        continue
                    m = f.msisdn_value(admin["msisdn"], f"admins[{i}].msisdn")
                    n = f.text_value(admin["name"], f"admins[{i}].name", 100)
                    if m is not None and m in seen:
                        f.fail(f"admins[{i}].msisdn", f"admin {m} is listed twice for this enterprise")
                    elif m is not None and n is not None:
                        seen.add(m)
                        admins.append((m, n))
        row = {"id": f.key("id"), "kind": kind, "name": f.text("name", 100), "id_doc_type": doc_type,
               "id_doc_number": number, "admins": admins}
        return row

    def _line(self, rec: dict, base: str) -> dict:
        self._fields("line", rec, base, LINE_FIELDS, LINE_REQUIRED)
        f = _FieldReader(self, rec, base)
        msisdn = f.msisdn("msisdn")
        primary = f.msisdn("primary_msisdn")
        if primary is not None and primary == msisdn:
            f.fail("primary_msisdn", "a line cannot be its own primary: use null for a primary or single line")
        row = {"msisdn": msisdn, "customer_id": f.key("customer_id"),
               "status": f.choice("status", ("active", "suspended", "inactive")),
               "service_password": f.service_password("service_password"),
               **{m: f.money(m, default=0) for m in MONEY},
               "primary_msisdn": primary, "port_out_pending": f.boolean("port_out_pending", default=False),
               **f.contract("contract"), "bindings": f.bindings("bindings")}
        return row

    def _subscription(self, rec: dict, base: str) -> dict:
        self._fields("subscription", rec, base, SUBSCRIPTION_FIELDS, SUBSCRIPTION_REQUIRED)
        f = _FieldReader(self, rec, base)
        start, end, started = f.date("period_start"), f.date("period_end"), f.date("started_on")
        if start is not None and end is not None and start >= end:
            f.fail("period_end", f"period_end ({end}) must be after period_start ({start}): "
                                 "the cycle is [period_start, period_end)")
        if started is not None and start is not None and started > start:
            f.fail("started_on", "started_on (the first subscription day) cannot be after period_start")
        row = {"id": f.key("id"), "msisdn": f.msisdn("msisdn"), "product_code": f.key("product"),
               "period_start": start, "period_end": end, "auto_renew": f.boolean("auto_renew"),
               "started_on": started}
        if rec.get("usage") is not None:
            row["usage"] = f.usage("usage")
        return row


class _FieldReader:
    """Reads the fields of one record; each reader reports its own problem and returns None."""

    __slots__ = ("v", "rec", "base")

    def __init__(self, v: Validator, rec: dict, base: str):
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
            return "CNY"
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
            item = self.item(b, f"{name}[{i}]", ("kind", "name"), ("kind", "name"), "a binding")
            if item is None:
                continue
            kind = item["kind"]
            if not isinstance(kind, str) or kind not in ("bank", "payment", "social", "other"):
                self.fail(f"{name}[{i}].kind", "must be one of bank, payment, social, other")
                continue
            text = self.text_value(item["name"], f"{name}[{i}].name", 100)
            if text is not None:
                out.append({"kind": kind, "name": text})
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


# ---- reading inputs --------------------------------------------------------------------------
Record = tuple[str, int, object]  # (record type, position, record)


def iter_document(doc: object, problems: Problems, only: str | None = None) -> Iterator[Record]:
    """Records of a parsed JSON document, section by section in write order."""
    if not isinstance(doc, dict):
        problems.add("", "the document must be a JSON object with products, customers, lines and subscriptions")
        return
    for key in doc:
        if key not in SECTIONS:
            problems.add(str(key)[:40], f"unknown top-level key {str(key)[:40]!r}: the document has only "
                                        "products, customers, lines and subscriptions")
    for section, rtype in SECTIONS.items():
        if only is not None and rtype != only:
            continue
        items = doc.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.add(section, f"{section} must be a list (or be left out)")
            continue
        for i, rec in enumerate(items):
            yield rtype, i, rec


def iter_jsonl(stream: Iterable[bytes], problems: Problems, only: str | None = None,
               on_raw: Callable[[bytes], None] | None = None) -> Iterator[Record]:
    """Records of a JSON Lines stream: one `{"type": ..., ...}` object a line; blank lines skipped.

    The position is the 1-based line number. `on_raw` sees every raw line (for a checksum).
    """
    for lineno, raw in enumerate(stream, 1):
        if on_raw is not None:
            on_raw(raw)
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problems.add(f"line {lineno}", "is not valid UTF-8 text")
            continue
        except json.JSONDecodeError as exc:
            problems.add(f"line {lineno}", f"is not valid JSON ({exc.msg} at column {exc.colno}); "
                                           "each line must be one complete JSON object")
            continue
        if not isinstance(rec, dict):
            problems.add(f"line {lineno}", "must be a JSON object like {\"type\": \"line\", ...}")
            continue
        rtype = rec.pop("type", None)
        if rtype not in TYPES or not isinstance(rtype, str):
            problems.add(f"line {lineno}.type", "type is required: one of product, customer, line, subscription")
            continue
        if only is None or rtype == only:
            yield rtype, lineno, rec


def validate_document_dict(doc: object, lookup: Lookup | None = None) -> Problems:
    """Validate a parsed JSON document completely (convenience for tests and callers)."""
    problems = Problems()
    v = Validator(problems)
    for rtype, pos, rec in iter_document(doc, problems):
        v.check(rtype, rec, pos)
    return v.finish(lookup)


def validate_jsonl_stream(stream: IO[bytes] | Iterable[bytes], lookup: Lookup | None = None) -> Problems:
    """Validate a JSON Lines stream completely (convenience for tests and callers)."""
    problems = Problems()
    v = Validator(problems, jsonl=True)
    for rtype, pos, rec in iter_jsonl(stream, problems):
        v.check(rtype, rec, pos)
    return v.finish(lookup)
