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
from typing import IO, Callable, Iterable, Iterator

from .import_fields import MAX_BINDINGS as MAX_BINDINGS  # re-exported: the field rules live in import_fields.py
from .import_fields import MAX_FEN as MAX_FEN
from .import_fields import USAGE_FIELDS as USAGE_FIELDS
from .import_fields import FieldReader

TYPES = ("product", "customer", "line", "subscription")  # also the write order (foreign keys)
RANK = {t: i for i, t in enumerate(TYPES)}
SECTIONS = {"products": "product", "customers": "customer", "lines": "line", "subscriptions": "subscription"}
SECTION_OF = {t: s for s, t in SECTIONS.items()}
KEY_FIELD = {"product": "code", "customer": "id", "line": "msisdn", "subscription": "id"}
NOUN = {"product": "product", "customer": "customer", "line": "line (msisdn)", "subscription": "subscription"}

MAX_ERRORS = 1000
MONEY = ("cash_balance", "gift_balance", "deposit", "unbilled_usage", "arrears", "installment_due")

PRODUCT_FIELDS = ("code", "kind", "name", "price", "period", "unsubscribe_effect", "refund", "partner", "currency")
PRODUCT_REQUIRED = ("code", "kind", "name", "price", "period", "unsubscribe_effect", "refund")
CUSTOMER_FIELDS = ("id", "kind", "name", "id_document", "admins")
CUSTOMER_REQUIRED = ("id", "kind", "name", "id_document")
LINE_FIELDS = ("msisdn", "customer_id", "status", "service_password", *MONEY, "primary_msisdn",
               "port_out_pending", "contract", "bindings")
LINE_REQUIRED = ("msisdn", "customer_id", "status")
SUBSCRIPTION_FIELDS = ("id", "msisdn", "product", "period_start", "period_end", "auto_renew", "started_on", "usage")
SUBSCRIPTION_REQUIRED = ("id", "msisdn", "product", "period_start", "period_end", "auto_renew")

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
        f = FieldReader(self, rec, base)
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
        f = FieldReader(self, rec, base)
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
        f = FieldReader(self, rec, base)
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
        f = FieldReader(self, rec, base)
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
        except RecursionError:
            problems.add(f"line {lineno}", "is nested too deeply; each line is one object of plain values")
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
