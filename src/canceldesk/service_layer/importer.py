"""Import of the operator's CRM/BSS feed (CONTRACT.md, "Import document").

Public functions (the CLI `canceldesk import FILE` and `POST /v1/admin/import` call these):

* `import_path(c, path)` — a file: a JSON document or JSON Lines;
* `import_bytes(c, data, content_type=None)` — a request body;
* `verify_service_password(c, stored_hash, password)` / `hash_service_password(c, password)` —
  service passwords as the importer stores them.

Both import functions return ``{"products": {"created": n, "updated": n}, "customers": {…},
"lines": {…}, "subscriptions": {…}, "seconds": s}`` or raise `ImportRejected` (nothing written)
with ``details = {"errors": [{"path", "message"}, …], "error_count": n}`` — paths are described
in import_validation.py (``lines[3].msisdn`` in a document, ``line 17.msisdn`` in JSON Lines).

Which format:

* `import_path`: a name ending in ``.jsonl`` or ``.ndjson`` is JSON Lines. Otherwise the first
  non-blank line decides: if that line alone (at most 1 MiB) parses as a JSON object with a string
  ``"type"`` member, the file is JSON Lines, else it is one JSON document. (A pretty-printed
  document starts with a bare ``{`` line; a one-line document has no top-level ``type``.)
* `import_bytes`: content type ``application/x-ndjson``, ``application/ndjson``,
  ``application/jsonl``, ``application/x-jsonlines`` → JSON Lines; no content type → the same
  first-line rule; any other (``application/json``) → a JSON document.

How: a validation pass over the whole input (keeping only each type's key set, for duplicates and
references; references missing from the input are looked up in the database), then — only if
nothing is wrong — one transaction writes everything with bulk upserts (`INSERT … ON CONFLICT DO
UPDATE`, executemany in chunks of CHUNK rows) in foreign-key order: products, customers (and
their admins, replaced), lines, subscriptions. JSON Lines are streamed both times, so memory stays
flat; when a feed is not already in that order, the write pass reads the file once per record
type. A file that changes between the passes is refused (checksum), and the transaction rolled back.

Re-importing updates exactly the imported columns in place. What canceldesk itself owns stays: a
frozen line keeps its status (its owner may still reclaim it), and so does a recyclable one while
the feed still names its owner (a re-issued number takes the feed's status); a subscription keeps
its status, access end and end time (imported subscriptions start active).

Personal data: names and ID numbers go into the `Encrypted` columns, ID numbers are also looked up
by the key ring's keyed digest. Service passwords are stored only as
``svc1$<key id>$<argon2id hash of HMAC(pepper, password)>`` — see `hash_service_password`.
Nothing personal is logged.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import IO, Callable, Iterator

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import and_, case, literal_column, or_, select
from sqlalchemy.exc import StatementError

from canceldesk.adapters import orm
from canceldesk.adapters.crypto import key_id_of

from . import auth
from .errors import Conflict, InvalidInput
from .import_validation import (RANK, TYPES, Problems, Record, Validator, iter_document, iter_jsonl)

log = logging.getLogger(__name__)

CHUNK = 2000
JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSONL_MEDIA_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl",
                     "application/x-jsonlines", "application/jsonlines"}
_SNIFF_LIMIT = 1 << 20


class ImportRejected(InvalidInput):
    """Nothing was written. details: {"errors": [{"path", "message"}, …] (at most 1000), "error_count": n}."""
    code = "IMPORT_REJECTED"

    @classmethod
    def from_problems(cls, problems: Problems) -> "ImportRejected":
        n = problems.count
        return cls(f"the import has {n} error{'s' if n != 1 else ''}; nothing was written — "
                   "fix every record listed in details.errors and send it again",
                   {"errors": list(problems.errors), "error_count": n})


def _rejected(path: str, message: str) -> ImportRejected:
    p = Problems()
    p.add(path, message)
    return ImportRejected.from_problems(p)


# ---- service passwords -----------------------------------------------------------------------
# A service password (服务密码) has 6 digits: 10^6 candidates. No hash cost makes that safe once
# an attacker holds both the database and the secret key (argon2 defaults: 116 ms a guess, 32
# CPU-hours for one line), and default cost makes an import of 100,000 lines take 3 CPU-hours. So
# the secret does the protecting — the password is first keyed with an HMAC whose key is derived
# from CANCELDESK_SECRET_KEY and is never stored in the database, so a stolen database alone
# cannot be brute-forced at all — and argon2id, with light parameters (t=1, m=256 KiB: ≈0.15 ms),
# stays as defence in depth. Online guessing is stopped by the step-up lock (5 failures).
# Hashing runs in background threads (argon2-cffi releases the GIL) from the validation pass on,
# so it overlaps parsing and writing when a second core is free.
SERVICE_HASHER = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1, hash_len=32, salt_len=16,
                                type=Type.ID)
_SVC = "svc1"


@lru_cache(maxsize=16)
def _pepper(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canceldesk",
                info=b"service-password-pepper").derive(secret.encode())


def _peppers(settings) -> dict[str, bytes]:
    secrets = [settings.secret_key] + [s.split(":", 1)[-1] for s in settings.old_secret_keys.split(",") if s]
    return {key_id_of(s): _pepper(s) for s in secrets}


def _keyed(pepper: bytes, password: str) -> bytes:
    return hmac.new(pepper, password.encode(), hashlib.sha256).digest()


def hash_service_password(c, password: str) -> str:
    kid = key_id_of(c.settings.secret_key)
    return f"{_SVC}${kid}${SERVICE_HASHER.hash(_keyed(_pepper(c.settings.secret_key), password))}"


def verify_service_password(c, stored_hash: str | None, password: str) -> bool:
    """The step-up check of a line's service password, for hashes written by the importer
    (``svc1$…``) and for plain argon2 hashes of `auth.hash_password`."""
    if not stored_hash or not isinstance(password, str):
        SERVICE_HASHER.hash("timing-equaliser")  # the same work whether or not the line has a password
        return False
    if not stored_hash.startswith(_SVC + "$"):
        return auth.verify_password(stored_hash, password)
    try:
        _, kid, encoded = stored_hash.split("$", 2)
        pepper = _peppers(c.settings).get(kid)
        if pepper is None:  # written under a secret that is no longer configured
            SERVICE_HASHER.hash("timing-equaliser")
            return False
        return SERVICE_HASHER.verify(encoded, _keyed(pepper, password))
    except (ValueError, VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _keep_or_hash(kid: str, pepper: bytes, old: str | None, password: str) -> str:
    """The stored hash when it is current and already matches the password, else a new one."""
    if old and old.startswith(f"{_SVC}${kid}$"):
        encoded = old.split("$", 2)[2]
        try:
            if SERVICE_HASHER.verify(encoded, _keyed(pepper, password)) \
                    and not SERVICE_HASHER.check_needs_rehash(encoded):
                return old
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    return f"{_SVC}${kid}${SERVICE_HASHER.hash(_keyed(pepper, password))}"


class _PasswordHashing:
    """Service-password hashes computed in background threads while the import goes on.

    The validation pass `add`s each valid line's password; every CHUNK of them, the stored hashes
    of those lines are read (a re-import keeps a hash that still matches) and a batch is handed to
    the pool. The write pass `get`s the hash of each line, waiting only for the batch holding it.
    Once the input has an error nothing more is hashed, and leaving the `with` drops what is queued.
    """

    def __init__(self, c):
        self.c = c
        self.kid, self.pepper = key_id_of(c.settings.secret_key), _pepper(c.settings.secret_key)
        self.pending: list[tuple[str, str]] = []
        self.futures: deque = deque()
        self.done: dict[str, str] = {}
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> "_PasswordHashing":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pending, self.done = [], {}

    def add(self, msisdn: str, password: str) -> None:
        self.pending.append((msisdn, password))
        if len(self.pending) >= CHUNK:
            self.submit()

    def submit(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        col = orm.lines.c
        with self.c.engine.connect() as conn:
            stored = dict(conn.execute(select(col.msisdn, col.service_password_hash)
                                       .where(col.msisdn.in_([m for m, _ in batch]))).all())
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, 4)),
                                           thread_name_prefix="import-hash")
        self.futures.append(self.pool.submit(self._hash_batch, batch, stored))

    def _hash_batch(self, batch: list[tuple[str, str]], stored: dict) -> dict[str, str]:
        return {m: _keep_or_hash(self.kid, self.pepper, stored.get(m), pw) for m, pw in batch}

    def get(self, msisdn: str) -> str:
        while msisdn not in self.done:
            if not self.futures:  # the input changed after validation
                raise _rejected("", "the input changed while it was being imported; nothing was written — "
                                    "import it again")
            self.done.update(self.futures.popleft().result())
        return self.done.pop(msisdn)


# ---- sources ---------------------------------------------------------------------------------
class _DocumentSource:
    jsonl = False

    def __init__(self, doc: object):
        self.doc = doc

    def records(self, problems: Problems, only: str | None = None) -> Iterator[Record]:
        return iter_document(self.doc, problems, only)

    def check_unchanged(self) -> None:
        pass


class _LinesSource:
    """JSON Lines read from a stream opener, once per pass; the first pass records a checksum."""
    jsonl = True

    def __init__(self, opener: Callable[[], IO[bytes]]):
        self.opener = opener
        self.first_digest: str | None = None
        self._digest = None

    def records(self, problems: Problems, only: str | None = None) -> Iterator[Record]:
        self._digest = hashlib.sha256()
        with self.opener() as stream:
            yield from iter_jsonl(stream, problems, only, on_raw=self._digest.update)
        if self.first_digest is None:
            self.first_digest = self._digest.hexdigest()

    def check_unchanged(self) -> None:
        if self._digest.hexdigest() != self.first_digest:
            raise _rejected("", "the file changed while it was being imported; nothing was written — import it again")


def _sniff_jsonl(first_line: bytes) -> bool:
    try:
        rec = json.loads(first_line.decode("utf-8-sig"))
    except ValueError:
        return False
    return isinstance(rec, dict) and isinstance(rec.get("type"), str)


def _first_line(stream: IO[bytes]) -> bytes:
    while True:
        line = stream.readline(_SNIFF_LIMIT)
        if not line or line.strip():
            return line


def _parse_document(data: bytes) -> _DocumentSource:
    try:
        return _DocumentSource(json.loads(data.decode("utf-8-sig")))
    except UnicodeDecodeError:
        raise _rejected("", "the document is not UTF-8 encoded text") from None
    except json.JSONDecodeError as exc:
        raise _rejected("", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


# ---- public entry points ---------------------------------------------------------------------
def import_path(c, path: str) -> dict:
    try:
        with open(path, "rb") as f:
            jsonl = str(path).lower().endswith(JSONL_SUFFIXES) or _sniff_jsonl(_first_line(f))
        if jsonl:
            return _run(c, _LinesSource(lambda: open(path, "rb")))
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read the import file {path}: {exc.strerror or exc}", {"path": str(path)},
                           code="IMPORT_UNREADABLE") from None
    return _run(c, _parse_document(data))


def import_bytes(c, data: bytes, content_type: str | None = None) -> dict:
    if len(data) > c.settings.max_import_bytes:
        raise InvalidInput(f"the import is larger than {c.settings.max_import_bytes} bytes: split it",
                           {"max_bytes": c.settings.max_import_bytes}, code="IMPORT_TOO_LARGE")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    jsonl = media in JSONL_MEDIA_TYPES or (not media and _sniff_jsonl(_first_line(io.BytesIO(data))))
    return _run(c, _LinesSource(lambda: io.BytesIO(data)) if jsonl else _parse_document(data))


def _run(c, source) -> dict:
    started = time.perf_counter()
    with _PasswordHashing(c) as passwords:
        problems = Problems()
        v = Validator(problems, jsonl=source.jsonl)
        for rtype, pos, rec in source.records(problems):
            row = v.check(rtype, rec, pos)
            if rtype == "line" and row is not None and row["service_password"] is not None and not problems:
                passwords.add(row["msisdn"], row["service_password"])
        v.finish(lambda rtype, keys: _existing_keys(c, rtype, keys))
        if problems:
            log.info("import rejected: %d error(s)", problems.count)
            raise ImportRejected.from_problems(problems)
        passwords.submit()
        passes = [None] if v.ordered else [t for t in TYPES if v.counts[t]]
        del v  # the key sets are not needed any more
        return _write(c, source, passes, passwords, started)


def _write(c, source, passes: list, passwords: "_PasswordHashing", started: float) -> dict:
    with c.engine.begin() as conn:
        writer = _Writer(c, conn, passwords)
        trusted = Validator(Problems(), jsonl=source.jsonl, trusted=True)
        for only in passes:
            for rtype, pos, rec in source.records(trusted.problems, only):
                row = trusted.check(rtype, rec, pos)
                if row is None:
                    raise _rejected(trusted.base(rtype, pos), "this record changed while it was being imported; "
                                                              "nothing was written — import it again")
                writer.add(rtype, row)
            writer.flush_all()
            source.check_unchanged()
            if trusted.problems:
                raise ImportRejected.from_problems(trusted.problems)
        result: dict = {t + "s": dict(writer.counts[t]) for t in TYPES}
    result["seconds"] = round(time.perf_counter() - started, 3)
    log.info("import done in %.1f s: %s", result["seconds"],
             ", ".join(f"{k} +{v['created']}/~{v['updated']}" for k, v in result.items() if k != "seconds"))
    return result


_KEY_COLUMNS = {"product": orm.products.c.code, "customer": orm.customers.c.id, "line": orm.lines.c.msisdn,
                "subscription": orm.subscriptions.c.id}


def _existing_keys(c, rtype: str, keys: set) -> set:
    col = _KEY_COLUMNS[rtype]
    found: set = set()
    keys = sorted(keys)
    with c.engine.connect() as conn:
        for i in range(0, len(keys), CHUNK):
            found.update(conn.execute(select(col).where(col.in_(keys[i:i + CHUNK]))).scalars())
    return found


# ---- writing ---------------------------------------------------------------------------------
class _Writer:
    """Buffers rows per type; a full buffer is written after every buffer it depends on."""

    def __init__(self, c, conn, passwords: "_PasswordHashing"):
        self.c, self.conn, self.passwords = c, conn, passwords
        self.buffers: dict[str, list[dict]] = {t: [] for t in TYPES}
        self.counts = {t: {"created": 0, "updated": 0} for t in TYPES}
        name = conn.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - only the two supported databases
            raise RuntimeError(f"import does not support the {name} database")
        self._insert = insert
        self._statements: dict[str, object] = {}

    def add(self, rtype: str, row: dict) -> None:
        buf = self.buffers[rtype]
        buf.append(row)
        if len(buf) >= CHUNK:
            self.flush(rtype)

    def flush(self, rtype: str) -> None:
        for t in TYPES[:RANK[rtype]]:  # what this type refers to goes first
            self._write(t)
        self._write(rtype)

    def flush_all(self) -> None:
        for t in TYPES:
            self._write(t)

    def _write(self, rtype: str) -> None:
        rows = self.buffers[rtype]
        if not rows:
            return
        self.buffers[rtype] = []
        col = _KEY_COLUMNS[rtype]
        keys = [r[col.name] for r in rows]
        existing = set(self.conn.execute(select(col).where(col.in_(keys))).scalars())
        if rtype == "customer":
            admins = [{"enterprise_id": r["id"], "msisdn": m, "name": n} for r in rows for m, n in r.pop("admins")]
            for r in rows:
                r["id_doc_digest"] = self.c.keyring.digest(r["id_doc_number"])
        elif rtype == "subscription":
            usage = {r["id"]: r.pop("usage") for r in rows if "usage" in r}
            for r in rows:
                r["status"] = "active"
        elif rtype == "line":
            for r in rows:
                password = r.pop("service_password")
                r["service_password_hash"] = None if password is None else self.passwords.get(r["msisdn"])
                r["currency"], r["version"] = "CNY", 1
        before = self._line_statuses(keys) if rtype == "line" and existing else {}
        self._execute(self._upsert(rtype, rows[0].keys()), rows)
        if before:
            self._record_line_changes(before)
        if rtype == "customer":
            if existing:
                self._execute(orm.enterprise_admins.delete().where(
                    orm.enterprise_admins.c.enterprise_id.in_(list(existing))))
            if admins:
                self._execute(orm.enterprise_admins.insert(), admins)
        if rtype == "subscription" and usage:
            self._usage(usage)
        self.counts[rtype]["updated"] += len(existing)
        self.counts[rtype]["created"] += len(rows) - len(existing)

    def _line_statuses(self, msisdns: list[str]) -> dict[str, str]:
        t = orm.lines.c
        return dict(self.conn.execute(select(t.msisdn, t.status).where(t.msisdn.in_(msisdns))).all())

    def _record_line_changes(self, before: dict[str, str]) -> None:
        """The feed changed a line's status (the operator's systems are authoritative): append it to the
        line's history like any other change, so the history stays complete."""
        after = self._line_statuses(list(before))
        now = self.c.now()
        changed = [{"msisdn": m, "at": now, "from_status": old, "to_status": after[m], "actor": "system:import",
                    "channel": "import", "request_id": None, "reason": "imported"}
                   for m, old in before.items() if m in after and after[m] != old]
        if changed:
            self._execute(orm.line_history.insert(), changed)
    def _usage(self, usage: dict) -> None:
        """Usage facts (optional per subscription) replace the ones imported before."""
        self._execute(orm.subscription_usage.delete().where(orm.subscription_usage.c.subscription_id.in_(list(usage))))
        rows = [{"subscription_id": k, **v} for k, v in usage.items() if v]
        if rows:
            self._execute(orm.subscription_usage.insert(), rows)

    def _execute(self, stmt, rows: list[dict] | None = None) -> None:
        try:
            self.conn.execute(stmt, rows) if rows is not None else self.conn.execute(stmt)
        except StatementError as exc:
            # SQLAlchemy's message carries the rows (names, ID numbers): never pass it on.
            reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0][:200]
            raise Conflict(f"the database refused the import ({reason}); nothing was written — "
                           "if records were changed or deleted meanwhile, import again",
                           code="IMPORT_FAILED") from None

    def _upsert(self, rtype: str, columns) -> object:
        """INSERT … ON CONFLICT (key) DO UPDATE of exactly the imported columns (never others)."""
        if rtype in self._statements:
            return self._statements[rtype]
        table = {"product": orm.products, "customer": orm.customers, "line": orm.lines,
                 "subscription": orm.subscriptions}[rtype]
        key = _KEY_COLUMNS[rtype].name
        stmt = self._insert(table)
        ex = stmt.excluded
        keep = {key, "currency", "version", "status"} if rtype in ("line", "subscription") else {key}
        set_ = {name: ex[name] for name in columns if name not in keep}
        if rtype == "line":
            # A number canceldesk closed keeps its status: frozen (the owner may still reclaim it), or
            # recyclable while the feed still names its former owner (stale data, not a re-issue).
            # Literal SQL, not bound parameters, in the SET clause of an executemany.
            t = orm.lines.c
            kept = or_(t.status == literal_column("'frozen'"),
                       and_(t.status == literal_column("'recyclable'"),
                            or_(ex.customer_id == t.customer_id, ex.customer_id == t.former_customer_id)))
            set_["status"] = case((kept, t.status), else_=ex.status)
            set_["version"] = t.version + literal_column("1")
        if rtype == "subscription" and "auto_renew" in set_:
            # A renewal the subscriber stopped here stays stopped: a stale CRM feed must never switch it
            # back on and charge them. canceldesk marks a stopped renewal with access_ends_at (or ends it).
            t = orm.subscriptions.c
            stopped = or_(t.status != literal_column("'active'"), t.access_ends_at.is_not(None))
            set_["auto_renew"] = case((stopped, t.auto_renew), else_=ex.auto_renew)
        stmt = stmt.on_conflict_do_update(index_elements=[key], set_=set_)
        self._statements[rtype] = stmt
        return stmt
