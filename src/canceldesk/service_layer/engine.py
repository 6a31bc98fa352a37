"""The worker's engine: group commit and many downstream calls in flight.

A worker process runs a few engine lanes. Each lane, over and over:

1. **Claims** a group of due executing requests in one transaction (`RunStore.claim_due`: never
   leased, parked and due, or held by a run whose lease lapsed — PostgreSQL `FOR UPDATE SKIP
   LOCKED`, SQLite's write lock), taking their leases.
2. **Advances the whole group in one transaction**: every request is locked, its lease extended
   (one UPDATE … RETURNING), the previous round's call results recorded, its local steps done,
   and its next outside call marked `started` (executor.advance_locked) — then one COMMIT, with
   one audit-chain append for all the group's transitions and the outbox rows of all its
   notices. The step log's promise is unchanged: `started` commits before the call, `done` with
   the call's effects after it. Later rounds reuse what the previous round committed for requests
   whose leases this owner still holds: their step logs, receipts and refund keys (no other run can
   have written them), their request rows (re-locked by a narrow SELECT … FOR UPDATE that checks
   the columns another run may write, re-read whole if one changed) and their lines (written with
   their version check, so a line changed meanwhile makes the round "not now").
3. **Calls downstream concurrently** (a thread pool shared by the lanes): the simulators' (or the
   real systems') latency is paid once per round for the whole group, not once per request.
4. Back to 2 with the results, until every request of the group is completed, failed, or parked
   for a retry (its lease parked until the backoff is due; a lane claims it again then).

A SIGKILLed worker leaves leases that lapse after `lease_seconds`; any lane claims them then
(counted as a resume; a request whose runs keep dying is failed and escalated, as the sweeper does).
The queue only wakes lanes up: the database is the record of what is due.
"""
from __future__ import annotations

import gc
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from canceldesk.domain.errors import PermanentError, StoreBusy, TransientError
from canceldesk.domain.lifecycle import Status

from . import escalations, executor

log = logging.getLogger("canceldesk.engine")
GROUP = 200            # requests advanced per transaction
CALLS = 256            # downstream calls in flight per worker process (a group's calls in one or two waves)
LANES = 3              # groups in progress at once per worker process
IDLE_WAIT = 1.0        # seconds a lane waits for a wake-up (the queue nudges it) when nothing is due
_DB_TROUBLE = StoreBusy  # the store's "not now" (ports.RunStore): the transaction rolled back whole


def run_group(c, ids: list[str], owner: str, pool: ThreadPoolExecutor) -> dict[str, str]:
    """Advance claimed requests (leases held by `owner`) as far as they go; returns each one's
    outcome: a status, executor.BUSY (another run holds it) or "parked" (a retry is due later)."""
    return _run(c, {i: None for i in ids}, owner, pool)


def _run(c, pending: dict[str, tuple | None], owner: str, pool: ThreadPoolExecutor) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    carry: dict = {}  # what the group's last committed round knows (see _round)
    while pending:
        try:
            calls = _round(c, pending, owner, outcomes, carry)
        except _DB_TROUBLE as exc:
            if len(pending) == 1:  # a conflicting run or a busy database: a short retry
                rid = next(iter(pending))
                log.info("request %s: %s; retried shortly", rid, exc)
                _park_after_trouble(c, rid, owner)
                outcomes[rid] = "parked"
                return outcomes
            # The round rolled back as a whole (nothing half-done): advance them one by one.
            log.info("group of %d: %s; advancing them one by one", len(pending), exc)
            for rid, result in pending.items():
                outcomes.update(_run(c, {rid: result}, owner, pool))
            return outcomes
        futures = {rid: (call, pool.submit(executor.call_downstream, c, rid, call)) for rid, call in calls.items()}
        pending = {}
        for rid, (call, fut) in futures.items():
            try:
                pending[rid] = ("done", call, fut.result())
            except TransientError as exc:
                pending[rid] = ("transient", call, str(exc), getattr(exc, "result", None))
            except PermanentError as exc:
                pending[rid] = ("permanent", call, str(exc))
            except Exception as exc:  # noqa: BLE001 - an unexpected client error counts as a transient one
                log.exception("request %s step %s: unexpected error", rid, call.step)
                pending[rid] = ("transient", call, type(exc).__name__, None)
    return outcomes


def _locked(runs, ids: list[str], kept: dict) -> dict:
    """The group's requests, row-locked: those the last round committed and that are unchanged since are
    adopted (RunStore.relock_requests, which a store need not have), the rest read whole."""
    relock = getattr(runs, "relock_requests", None)
    reqs = relock({rid: kept[rid] for rid in ids if rid in kept}) if relock is not None and kept else {}
    rest = [rid for rid in ids if rid not in reqs]
    if rest:
        reqs.update(runs.locked_requests(rest))
    return reqs


def _known_steps(runs, ids: list[str], held: set[str], kept: dict) -> tuple[dict, set[str]]:
    """The step logs of `ids`, and which of them were adopted: those the group's last round committed
    (`kept`, still leased by this owner, so no other run can have written them since) are adopted by
    the store as if read now; the rest are read with one SELECT. A store that cannot adopt records
    (ports.RunStore does not require it) reads them all."""
    adopt = getattr(runs, "adopt_steps", None)
    known = {rid: kept[rid] for rid in ids if rid in kept and rid in held} if adopt is not None else {}
    steps = runs.steps_of_many([rid for rid in ids if rid not in known])
    if known:
        adopt([rec for recs in known.values() for rec in recs.values()])
        steps.update(known)
    return steps, set(known)


def _round(c, pending: dict[str, tuple | None], owner: str, outcomes: dict[str, str], carry: dict | None = None) -> dict:
    """One transaction for the whole group. Returns the calls to make next, by request id.

    `carry` holds what the group's previous round committed and this process alone can have
    written since, as long as it holds the leases: the requests' step logs, their receipts and
    refund payments (written only by those steps); and the request rows and lines, which others
    may write (checked when adopted: `_locked`, the lines' version). It is emptied first and
    refilled only once this round has committed, so a round that rolls back leaves nothing stale."""
    now = c.now()
    calls: dict = {}
    kept = dict(carry or {})
    if carry is not None:
        carry.clear()
    with c.uow() as uow:
        runs = uow.runs
        runs.hold_writes()
        ids = sorted(pending)
        reqs = _locked(runs, ids, kept.get("requests", {}))
        held = runs.extend_leases(ids, owner, now, c.settings.lease_seconds)
        steps, adopted = _known_steps(runs, ids, held, kept.get("steps", {}))
        lines = [ln for rid, ln in kept.get("lines", {}).items() if rid in adopted]
        if lines and hasattr(runs, "adopt_lines"):  # optional, like adopt_steps and relock_requests
            runs.adopt_lines(lines)
        live = [r for r in reqs.values() if r.status == Status.EXECUTING and r.id in held]
        fresh = [r.id for r in live if r.id not in adopted]
        receipts = {rid: code for rid, code in kept.get("receipts", {}).items() if rid in adopted}
        payments = {key for key in kept.get("payments", ()) if key.split(":", 1)[0] in adopted}
        if fresh:
            receipts.update(runs.receipt_codes(fresh))
            payments |= runs.payment_keys(fresh)
        group = executor.GroupCache(subs=runs.subscriptions_of_many({r.msisdn for r in live}),
                                    receipts=receipts, finished=[], payments=payments, alone=len(ids) == 1)
        executor.load_lines(uow, group, live)
        park: dict = {}
        drop: list[str] = []
        for rid in ids:
            req = reqs.get(rid)
            if req is None:
                outcomes[rid] = "missing"
                continue
            if req.status != Status.EXECUTING:
                drop.append(rid)
                outcomes[rid] = req.status
                continue
            if rid not in held:
                outcomes[rid] = executor.BUSY
                continue
            result, done = pending[rid], None
            if result is not None and result[0] == "transient":
                _, call, error, partial = result
                delay = executor.record_transient(c, uow, req, steps[rid].get(call.step), call, error, partial, now)
                if delay is None:
                    outcomes[rid] = Status.FAILED
                else:
                    park[rid] = now + timedelta(seconds=delay)
                    outcomes[rid] = "parked"
                continue
            if result is not None and result[0] == "permanent":
                _, call, error = result
                executor.record_permanent(c, uow, req, steps[rid].get(call.step), call.step, error, now)
                outcomes[rid] = Status.FAILED
                continue
            if result is not None:
                done = (result[1].step, result[2])
            outcome = executor.advance_locked(c, uow, req, done, now, steps[rid], group)
            if isinstance(outcome, executor.Call):
                calls[rid] = outcome
            else:
                outcomes[rid] = outcome
        runs.park_leases(park, now)
        runs.drop_leases(drop)
        runs.finish_runs(group.finished, now)
        runs.commit()  # the group's step records and held rows: one executemany per table, then COMMIT
    if carry is not None and calls:
        carry.update(requests={rid: reqs[rid] for rid in calls},
                     lines={rid: group.lines[reqs[rid].msisdn] for rid in calls
                            if group.lines and reqs[rid].msisdn in group.lines},
                     steps={rid: steps[rid] for rid in calls},
                     receipts={rid: code for rid, code in group.receipts.items() if rid in calls},
                     payments={k for k in group.payments if k.split(":", 1)[0] in calls})
    return calls


def _park_after_trouble(c, rid: str, owner: str) -> None:
    now = c.now()
    try:
        with c.uow() as uow:
            if uow.runs.extend_leases([rid], owner, now, 0):
                uow.runs.park_leases({rid: now + timedelta(seconds=0.2)}, now)
            uow.runs.commit()
    except _DB_TROUBLE:
        pass  # the lease lapses on its own after lease_seconds


def claim(c, owner: str, limit: int = GROUP) -> list[str]:
    """Claim a group of due requests; a request whose runs keep dying is failed and escalated."""
    now = c.now()
    with c.uow() as uow:
        claimed = uow.runs.claim_due(owner, now, c.settings.lease_seconds, limit)
        uow.runs.commit()
    worn = [rid for rid, resumes in claimed if resumes > escalations.MAX_RESUMES]
    for rid in worn:
        with c.uow() as uow:
            req = uow.runs.locked_requests([rid]).get(rid)
            if req is not None:
                escalations.fail_execution(c, uow, req, escalations.current_step(uow, req) or "run",
                                           f"the worker running it was lost {dict(claimed)[rid]} times", now)
            uow.runs.commit()
    return [rid for rid, resumes in claimed if resumes <= escalations.MAX_RESUMES]


def drain(c, pool: ThreadPoolExecutor | None = None, limit: int = GROUP) -> int:
    """Claim and advance groups until nothing is due now (scripts, tests, benchmarks)."""
    own = pool is None
    pool = pool or ThreadPoolExecutor(CALLS, thread_name_prefix="downstream")
    owner, total = f"drain-{uuid.uuid4().hex[:10]}", 0
    try:
        while True:
            ids = claim(c, owner, limit)
            if not ids:
                return total
            run_group(c, ids, owner, pool)
            total += len(ids)
    finally:
        if own:
            pool.shutdown(wait=True)


GC_YOUNG = 10_000  # container allocations between collections of the youngest generation (Python's default: 700)


def _young_collections_less_often() -> None:
    """A group holds the rows, records and statement parameters of ~200 requests for one round, then
    drops them. With the default threshold they outlive a few young collections, are promoted, and
    full collections re-scan the whole heap for them (~15% of an engine process's CPU, measured);
    collecting the young generation every 10,000 allocations lets a round's objects die young.
    Reference counting frees almost all of them anyway: only cyclic garbage waits longer."""
    threshold = gc.get_threshold()
    if threshold[0] < GC_YOUNG:
        gc.set_threshold(GC_YOUNG, *threshold[1:])


class Engine:
    """The lanes of one worker process (threads), woken by the queue, polling when idle."""

    def __init__(self, c, lanes: int = LANES, group: int = GROUP, calls: int = CALLS):
        self.c, self.lanes, self.group = c, lanes, group
        self.pool = ThreadPoolExecutor(calls, thread_name_prefix="downstream")
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.inflight: dict[str, list[str]] = {}  # lane owner -> the group it is advancing

    def start(self) -> None:
        _young_collections_less_often()
        for n in range(self.lanes):
            t = threading.Thread(target=self._lane, name=f"engine-lane-{n}", daemon=True)
            t.start()
            self.threads.append(t)
        t = threading.Thread(target=self._heartbeat, name="engine-heartbeat", daemon=True)
        t.start()
        self.threads.append(t)

    def _heartbeat(self) -> None:
        """Keep the leases of live groups from lapsing while their calls are slow; only a dead
        process's leases lapse (and are resumed by another lane)."""
        every = max(0.2, self.c.settings.lease_seconds / 4)
        while not self.stopping.wait(every):
            for owner, ids in list(self.inflight.items()):
                try:
                    with self.c.uow() as uow:
                        uow.runs.extend_leases(ids, owner, self.c.now(), self.c.settings.lease_seconds)
                        uow.runs.commit()
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.info("lease heartbeat missed a beat", exc_info=True)

    def nudge(self) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _lane(self) -> None:
        owner = f"lane-{uuid.uuid4().hex[:12]}"
        while not self.stopping.is_set():
            try:
                ids = claim(self.c, owner, self.group)
            except _DB_TROUBLE as exc:
                log.info("claim: %s", type(exc).__name__)
                ids = []
            except Exception:  # noqa: BLE001 - a lane never dies; the leases keep the work safe
                log.exception("claim failed")
                ids = []
            if not ids:
                self.wake.wait(IDLE_WAIT)
                self.wake.clear()
                continue
            self.inflight[owner] = ids
            try:
                run_group(self.c, ids, owner, self.pool)
            except Exception:  # noqa: BLE001 - the leases lapse; another round resumes them
                log.exception("a group of %d failed; its leases lapse and it is resumed", len(ids))
            finally:
                self.inflight.pop(owner, None)
                try:
                    self.c.enqueue_delivery()
                except Exception:  # noqa: BLE001
                    log.exception("could not trigger delivery")
