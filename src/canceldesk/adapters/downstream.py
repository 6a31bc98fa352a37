"""Downstream systems behind Protocols: provisioning (HLR/HSS/UDM), partners, payments.

Each has a simulator with injectable failures and latency (CANCELDESK_SIM_FAILURE_RATE,
CANCELDESK_SIM_LATENCY_MS). The simulators keep their own state in their own tables, written in
their own transactions — as an outside system would — so a retry after a crash meets what the
"remote side" already did, and idempotency keys are honoured there too.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
import weakref
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy import Column, DateTime, MetaData, String, Table, BigInteger, select
from sqlalchemy.engine import Engine

from canceldesk.domain.errors import PermanentError as PermanentError  # re-exported: the callers' names
from canceldesk.domain.errors import TransientError as TransientError


class Provisioning(Protocol):
    def bar_line(self, msisdn: str, key: str) -> str: ...
    def restore_line(self, msisdn: str, key: str) -> str: ...


class Partners(Protocol):
    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str: ...
    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str: ...


class Payments(Protocol):
    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str: ...
    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str: ...


sim_metadata = MetaData()
sim_calls = Table(
    "sim_calls", sim_metadata,
    Column("key", String(160), primary_key=True),
    Column("system", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=False),
    Column("amount", BigInteger),
    Column("reference", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)


class FaultInjector:
    """Faults of an outside system: latency, failures before it acts (errors and timeouts) and lost
    replies after it acted. Half the injected failures are timeouts: the caller waits
    `timeout_factor` × the latency before giving up, as a real client with a deadline would."""

    def __init__(self, failure_rate: float = 0.0, latency_ms: int = 0, seed: int | None = None,
                 timeout_factor: float = 3.0, only: str | set[str] = ""):
        self.failure_rate = failure_rate
        self.latency_ms = latency_ms
        self.timeout_factor = timeout_factor
        self.only = {x.strip() for x in only.split(",") if x.strip()} if isinstance(only, str) else set(only)
        self._rng = random.Random(seed)

    def _fails(self, system: str, rate: float) -> bool:
        return bool(rate) and (not self.only or system in self.only) and self._rng.random() < rate

    def before(self, system: str) -> None:
        self.wait()
        self.fail_before(system)

    def wait(self) -> None:
        """The call's latency (once per call: a batch call pays it once)."""
        if self.latency_ms:
            time.sleep(self._rng.uniform(0.5, 1.5) * self.latency_ms / 1000)

    def fail_before(self, system: str, timeout_sleeps: bool = True) -> None:
        """A failure before the remote side acts: half errors, half timeouts (the caller waits for its
        deadline first, unless `timeout_sleeps` is off: one message of a batch call)."""
        if self._fails(system, self.failure_rate):
            if self._rng.random() < 0.5:
                if timeout_sleeps:
                    time.sleep(self.timeout_factor * self.latency_ms / 1000)
                raise TransientError(f"{system}: simulated timeout")
            raise TransientError(f"{system}: simulated error (503)")

    def after(self, system: str) -> None:
        # A failure *after* the remote side acted: the caller sees an error although the work is
        # done. Idempotency keys make the retry harmless.
        if self._fails(system, self.failure_rate / 3):
            raise TransientError(f"{system}: simulated lost reply")


class CallLog:
    """The simulators' record of what the "remote side" did, written by group commit: concurrent
    calls queue their rows, one writer thread inserts everything queued in one transaction
    (`INSERT … ON CONFLICT (key) DO NOTHING`, then reads back each key's reference — a repeated key
    gets the first call's), commits, and only then answers each call. A call still returns only
    once its row is durable, as before; many calls share one commit instead of one each."""

    BATCH = 500

    def __init__(self, engine: Engine):
        self.engine = engine
        self.lock = threading.Lock()
        self.queue: list[tuple[list[dict], Future]] = []  # (rows of one call, its answer: their references)
        self.wake = threading.Condition(self.lock)
        self.writer: threading.Thread | None = None

    def record(self, row: dict) -> str:
        return self.record_many([row])[0]

    def record_many(self, rows: list[dict]) -> list[str]:
        """Record the rows of one call (a batch call: many) and wait until they are committed; each
        row's reference, in order (a key recorded before keeps its first reference)."""
        fut: Future = Future()
        with self.lock:
            self.queue.append((rows, fut))
            if self.writer is None or not self.writer.is_alive():
                self.writer = threading.Thread(target=self._write_loop, name="sim-call-log", daemon=True)
                self.writer.start()
            self.wake.notify()
        return fut.result()

    def _take(self) -> list[tuple[list[dict], Future]]:
        """The calls queued first, up to BATCH rows (at least one call, however many rows it has)."""
        n = rows = 0
        while n < len(self.queue) and (n == 0 or rows + len(self.queue[n][0]) <= self.BATCH):
            rows += len(self.queue[n][0])
            n += 1
        batch, self.queue = self.queue[:n], self.queue[n:]
        return batch

    def _write_loop(self) -> None:
        writer = _Writer(self.engine)
        try:
            while True:
                with self.lock:
                    if not self.queue and not self.wake.wait(timeout=5.0) and not self.queue:
                        self.writer = None  # idle: the next call starts a new writer
                        return
                    batch = self._take()
                if not batch:
                    continue
                try:
                    refs = writer.write([row for rows, _ in batch for row in rows])
                except Exception as exc:  # noqa: BLE001 - each waiting call sees the failure (a transient one)
                    writer.close()
                    for _, fut in batch:
                        fut.set_exception(TransientError(f"call log: {type(exc).__name__}"))
                    continue
                for rows, fut in batch:
                    fut.set_result([refs[row["key"]] for row in rows])
        finally:
            writer.close()


_COLUMNS = ("key", "system", "action", "target", "amount", "reference", "at")
_PG_INSERT = ("INSERT INTO sim_calls (key, system, action, target, amount, reference, at) "
              "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[], "
              "%s::varchar[], %s::timestamptz[]) ON CONFLICT (key) DO NOTHING RETURNING key, reference")


class _Writer:
    """The call log's writes. PostgreSQL: the writer thread's own connection, taken out of the pool
    (it runs with synchronous_commit off: the remote side's durability is not ours to wait for, and
    that setting must never reach a pooled connection), one INSERT … SELECT FROM unnest(one array
    per column) … ON CONFLICT DO NOTHING RETURNING per batch — the server runs one statement, not one
    per row — and a SELECT only for keys already recorded (a repeated call). Elsewhere: a pooled
    connection per batch, an executemany and a SELECT of the batch's keys."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: nothing left to close
                pass

    def write(self, rows: list[dict]) -> dict[str, str]:
        if self.engine.dialect.name != "postgresql":
            return self._write_generic(rows)
        if self.conn is None:
            conn = self.engine.raw_connection()
            conn.detach()  # closed, never pooled, when this writer is done with it
            self.conn = conn
            with conn.cursor() as cur:
                cur.execute("SET synchronous_commit TO OFF")
            conn.commit()
        conn = self.conn
        try:
            with conn.cursor() as cur:
                cur.execute(_PG_INSERT, tuple([r[c] for r in rows] for c in _COLUMNS))
                refs = dict(cur.fetchall())
                missing = list({r["key"] for r in rows} - refs.keys())
                if missing:
                    cur.execute("SELECT key, reference FROM sim_calls WHERE key = ANY(%s::varchar[])", (missing,))
                    refs.update(cur.fetchall())
            conn.commit()
        except Exception:
            self.close()
            raise
        return refs

    def _write_generic(self, rows: list[dict]) -> dict[str, str]:
        from sqlalchemy.dialects.sqlite import insert as upsert
        keys = list({r["key"] for r in rows})
        with self.engine.begin() as conn:
            conn.execute(upsert(sim_calls).on_conflict_do_nothing(index_elements=["key"]), rows)
            return dict(conn.execute(select(sim_calls.c.key, sim_calls.c.reference)
                                     .where(sim_calls.c.key.in_(keys))).all())


_logs: "weakref.WeakKeyDictionary[Engine, CallLog]" = weakref.WeakKeyDictionary()
_logs_lock = threading.Lock()


def call_log(engine: Engine) -> CallLog:
    """One call log per database, shared by the simulators of a process."""
    with _logs_lock:
        log = _logs.get(engine)
        if log is None:
            log = _logs[engine] = CallLog(engine)
        return log


class _SimulatedSystem:
    system = "sim"

    def __init__(self, engine: Engine, faults: FaultInjector):
        self.engine = engine
        self.faults = faults
        self.log = call_log(engine)

    def _row(self, key: str, action: str, target: str, amount: int | None = None) -> dict:
        return {"key": f"{self.system}:{key}", "system": self.system, "action": action, "target": target,
                "amount": amount, "reference": f"{self.system[:3].upper()}-{uuid.uuid4().hex[:12]}",
                "at": datetime.now(timezone.utc)}

    def _call(self, key: str, action: str, target: str, amount: int | None = None) -> str:
        """Act once per key: a repeated key returns the first call's reference, as an idempotent
        API does (the remote side never acts twice)."""
        self.faults.before(self.system)
        reference = self.log.record(self._row(key, action, target, amount))
        self.faults.after(self.system)
        return reference

    def _call_many(self, calls: list[tuple[str, str, str]]) -> list:
        """One batch call of (key, action, target) acts: the latency is paid once, each act fails (or
        loses its reply) on its own, and the acts that reach the remote side are recorded together.
        Returns, in order, each act's reference or its error (TransientError)."""
        self.faults.wait()
        out: list = [None] * len(calls)
        rows, at = [], []
        for i, (key, action, target) in enumerate(calls):
            try:
                self.faults.fail_before(self.system, timeout_sleeps=False)
            except TransientError as exc:
                out[i] = exc
                continue
            rows.append(self._row(key, action, target))
            at.append(i)
        if rows:
            try:
                refs = self.log.record_many(rows)
            except TransientError as exc:  # the remote side did not answer: none of them is known to be done
                for i in at:
                    out[i] = exc
                return out
            for i, ref in zip(at, refs):
                try:
                    self.faults.after(self.system)
                    out[i] = ref
                except TransientError as exc:
                    out[i] = exc
        return out


class SimulatedProvisioning(_SimulatedSystem):
    system = "provisioning"

    def bar_line(self, msisdn: str, key: str) -> str:
        return self._call(key, "bar", msisdn)

    def restore_line(self, msisdn: str, key: str) -> str:
        return self._call(key, "restore", msisdn)


class SimulatedPartners(_SimulatedSystem):
    system = "partners"

    def stop_service(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._call(key, "stop", subscription_id)

    def stop_renewal(self, subscription_id: str, product_code: str, key: str) -> str:
        return self._call(key, "stop_renewal", subscription_id)


class SimulatedPayments(_SimulatedSystem):
    system = "payments"

    def refund(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        if amount <= 0:
            raise PermanentError("payments: refund amount must be positive")
        return self._call(key, f"refund:{method}", msisdn, amount)

    def charge(self, *, key: str, msisdn: str, amount: int, currency: str, method: str) -> str:
        """A renewal charge (代扣) on the subscriber's original payment method, once per key."""
        if amount <= 0:
            raise PermanentError("payments: charge amount must be positive")
        return self._call(key, f"charge:{method}", msisdn, amount)
