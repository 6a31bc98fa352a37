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
``svc1$<key id>$<argon2id hash of HMAC(pepper, password)>`` — see service_passwords.py.
Nothing personal is logged.

Where: this module reads the input and runs the two passes; import_validation.py checks records,
import_writer.py decides what each written row holds, adapters/import_store.py (`uow.imports`) is
the SQL.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from typing import IO, Callable, Iterator

from canceldesk.domain.errors import IntegrityConflict
from canceldesk.domain.identifiers import mask_msisdn

from . import audit, numbers
from .errors import Conflict, InvalidInput
from .import_validation import TYPES, Problems, Record, Validator, iter_document, iter_jsonl
from .import_writer import CHUNK, Writer
from .service_passwords import PasswordHashing
from .service_passwords import SERVICE_HASHER as SERVICE_HASHER  # re-exported: the importer's public names
from .service_passwords import hash_service_password as hash_service_password
from .service_passwords import verify_service_password as verify_service_password

log = logging.getLogger(__name__)

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
    except (ValueError, RecursionError):
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
    except RecursionError:
        raise _rejected("", "the JSON is nested too deeply; a record is an object of plain values") from None


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


def _stored_hashes(c, msisdns: list[str]) -> dict:
    with c.uow() as uow:
        return uow.imports.password_hashes(msisdns)


def _run(c, source) -> dict:
    started = time.perf_counter()
    changed = lambda: _rejected("", "the input changed while it was being imported; nothing was written — "  # noqa: E731
                                    "import it again")
    with PasswordHashing(c, lambda msisdns: _stored_hashes(c, msisdns), changed) as passwords:
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


def _write(c, source, passes: list, passwords: PasswordHashing, started: float) -> dict:
    with c.uow() as uow:  # one transaction: all of it, or nothing
        writer = Writer(c, uow, passwords)
        trusted = Validator(Problems(), jsonl=source.jsonl, trusted=True)
        try:
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
        except IntegrityConflict as exc:  # the store's reason only: never the rows (names, ID numbers)
            raise Conflict(f"the database refused the import ({exc}); nothing was written — "
                           "if records were changed or deleted meanwhile, import again",
                           code="IMPORT_FAILED") from None
        uow.commit()
        result: dict = {t + "s": dict(writer.counts[t]) for t in TYPES}
    if writer.reissued:
        _announce_reissues(c, writer)
    result["seconds"] = round(time.perf_counter() - started, 3)
    log.info("import done in %.1f s: %s", result["seconds"],
             ", ".join(f"{k} +{v['created']}/~{v['updated']}" for k, v in result.items() if k != "seconds"))
    if writer.reissued:
        result["reissued"] = len(writer.reissued)
    return result


def _announce_reissues(c, writer: Writer) -> None:
    with c.uow() as uow:
        now = c.now()
        for m in writer.reissued:
            audit.record(uow, at=now, actor="system:import", event="number_reissued", subject=mask_msisdn(m),
                         details={"former_authority_cleared": True})
        numbers.announce_ended_admin_logins(uow, writer.ended_admins, now, "reissued", c.pack.locale)
        uow.commit()


def _existing_keys(c, rtype: str, keys: set) -> set:
    """References missing from the input: which are stored (validation's `finish`)."""
    with c.uow() as uow:
        return uow.imports.existing_keys(rtype, keys)
