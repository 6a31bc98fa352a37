"""The worker's engine (service_layer/engine.py) and the priority lane of delivery, on SQLite with a
fake clock: a group advances in one transaction per round, a transient error parks one request
without holding up the others, a dead run's lapsed lease is claimed again, and login codes are
never claimed by the bulk lane nor held long by a dead deliverer."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from canceldesk.adapters import durable, orm
from canceldesk.adapters.downstream import TransientError, sim_calls
from canceldesk.service_layer import delivery, engine, executor, requests as svc
from canceldesk.service_layer.principal import Principal
from support import Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)
ALICE = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
BOB = Principal(kind="subscriber", id="C002", login_msisdn="13900139000")


@pytest.fixture()
def world(tmp_path, monkeypatch):
    clock = Clock(noon(TODAY))
    c = make_container(f"sqlite:///{tmp_path}/engine.db", clock=clock, retry_max_attempts=4, retry_base_seconds=1)
    seed(c, TODAY)
    c.enqueue_execution = lambda request_id: None  # accepted requests wait for the engine
    c.enqueue_delivery = lambda: None  # messages wait for a deliverer (no inline delivery)
    rounds = []
    real_round = engine._round
    monkeypatch.setattr(engine, "_round", lambda *a: rounds.append(len(a[1])) or real_round(*a))
    yield c, clock, rounds
    c.dispose()


def accept(c, p, kind, msisdn, sub):
    req, _ = svc.create_request(c, p, svc.NewRequest(kind=kind, msisdn=msisdn, subscription_id=sub))
    return svc.confirm(c, p, req.tracking_no)


def statuses(c) -> dict[str, str]:
    with c.engine.connect() as conn:
        return dict(conn.execute(select(orm.requests.c.subscription_id, orm.requests.c.status)).all())


def paid(c) -> list[tuple]:
    with c.engine.connect() as conn:
        return conn.execute(select(orm.payments.c.request_id, orm.payments.c.amount)).all()


def test_a_group_of_three_completes_in_two_transactions_each_refund_paid_once(world):
    c, clock, rounds = world
    reqs = [accept(c, ALICE, "unsubscribe", "13800138000", "S-DATA"),
            accept(c, ALICE, "cancel_renewal", "13800138000", "S-VIDEO"),
            accept(c, BOB, "cancel_renewal", "13900139000", "S-OTHER")]
    assert [r.status for r in reqs] == ["executing"] * 3
    assert engine.drain(c) == 3
    assert rounds == [3, 3]  # the calls marked started together, then all finished together
    assert statuses(c) == {"S-DATA": "completed", "S-VIDEO": "completed", "S-OTHER": "completed"}
    with c.engine.connect() as conn:
        settle = conn.execute(select(orm.execution_steps.c.result).where(
            orm.execution_steps.c.request_id == reqs[0].id, orm.execution_steps.c.step == "settle")).scalar_one()
        ledgers = conn.execute(select(orm.ledger_entries.c.request_id, func.sum(orm.ledger_entries.c.amount))
                               .group_by(orm.ledger_entries.c.request_id, orm.ledger_entries.c.settlement)).all()
        completed_notices = conn.execute(select(func.count()).select_from(orm.outbox)
                                         .where(orm.outbox.c.event == "completed")).scalar()
        receipts = conn.execute(select(func.count()).select_from(orm.receipts)).scalar()
        leases = conn.execute(select(func.count()).select_from(orm.execution_leases)).scalar()
    assert settle["refund"] > 0 and paid(c) == [(reqs[0].id, settle["refund"])]
    assert ledgers and all(total == 0 for _, total in ledgers)
    assert (completed_notices, receipts, leases) == (3, 3, 0)
    assert engine.drain(c) == 0  # nothing due any more


def test_a_request_changed_by_another_run_between_rounds_keeps_that_change(world, monkeypatch):
    """The second round adopts the request the first one committed only if nobody wrote it since: here
    the sweeper moves its promised time while the call is out, and that promise survives the completion."""
    c, clock, rounds = world
    req = accept(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    later = noon(TODAY) + timedelta(days=3)
    real = executor.call_downstream

    def call(c_, rid, step_call):
        with c.engine.begin() as conn:
            conn.execute(update(orm.requests).where(orm.requests.c.id == rid).values(deadline_at=later))
        return real(c_, rid, step_call)

    monkeypatch.setattr(executor, "call_downstream", call)
    assert engine.drain(c) == 1
    assert rounds == [1, 1]
    with c.engine.connect() as conn:
        row = conn.execute(select(orm.requests.c.status, orm.requests.c.deadline_at, orm.requests.c.completed_at)
                           .where(orm.requests.c.id == req.id)).one()
    assert (row.status, row.deadline_at, row.completed_at) == ("completed", later, noon(TODAY))
    assert [rid for rid, _ in paid(c)] == [req.id]  # refunded once


def test_a_transient_error_parks_one_request_and_the_others_complete(world):
    c, clock, rounds = world
    real = c.payments

    class FailsOnce:
        calls = 0

        def refund(self, **kw):
            self.calls += 1
            if self.calls == 1:
                raise TransientError("payments: simulated 503")
            return real.refund(**kw)

    c.payments = FailsOnce()
    refund_req = accept(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    accept(c, BOB, "cancel_renewal", "13900139000", "S-OTHER")
    engine.drain(c)
    assert statuses(c) == {"S-DATA": "executing", "S-OTHER": "completed"}
    with c.engine.connect() as conn:
        lease = conn.execute(select(orm.execution_leases)).mappings().one()
    assert lease["request_id"] == refund_req.id and lease["owner"] is None and lease["lease_until"] > clock.now
    assert engine.drain(c) == 0  # parked until its backoff is due
    clock.advance(seconds=10)
    assert engine.drain(c) == 1
    assert statuses(c)["S-DATA"] == "completed" and len(paid(c)) == 1 and c.payments.calls == 2


def test_a_dead_runs_lapsed_lease_is_claimed_again_and_counted_as_a_resume(world):
    c, clock, rounds = world
    req = accept(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    with c.uow() as uow:  # a worker claims it, then is SIGKILLed before its first round
        assert durable.claim_due(uow.session, "dead-worker", clock.now, c.settings.lease_seconds, 10) == [(req.id, 0)]
        uow.commit()
    assert engine.drain(c) == 0  # its lease is live: nobody else touches it
    clock.advance(seconds=c.settings.lease_seconds + 1)
    assert engine.drain(c) == 1
    assert statuses(c)["S-DATA"] == "completed" and len(paid(c)) == 1


def _sms_keys(c) -> list[str]:
    with c.engine.connect() as conn:
        return list(conn.execute(select(sim_calls.c.key).where(sim_calls.c.system == "sms")).scalars())


def test_login_codes_have_their_own_lane_the_bulk_lane_never_claims_them(world):
    c, clock, _ = world
    with c.uow() as uow:  # the code is the oldest message: a lane that ignored the event would claim it first
        uow.repo.add_message(dedup_key="otp-1", channel="sms", to="13900139000", event="otp", ref=None,
                             text="code 123456", at=clock.now)
        for i in range(delivery.BATCH + 10):
            uow.repo.add_message(dedup_key=f"bulk-{i}", channel="sms", to="13800138000", event="renewal_reminder",
                                 ref=None, text=f"notice {i}", at=clock.now)
        uow.commit()
        otp_id = uow.session.execute(select(orm.outbox.c.id).where(orm.outbox.c.event == "otp")).scalar_one()
    bulk = delivery.deliver(c, lane="bulk")
    assert (bulk.sent, f"sms:outbox:{otp_id}" in _sms_keys(c)) == (delivery.BATCH, False)
    assert delivery.deliver(c, lane="priority").sent == 1
    assert f"sms:outbox:{otp_id}" in _sms_keys(c)


def test_a_login_code_claimed_by_a_dead_deliverer_goes_out_seconds_later(world):
    c, clock, _ = world
    with c.uow() as uow:
        uow.repo.add_message(dedup_key="otp-2", channel="sms", to="13900139000", event="otp", ref=None,
                             text="code 654321", at=clock.now)
        uow.commit()
    with c.uow() as uow:  # a deliverer claims it on the priority lane and dies before sending
        claimed = durable.claim_messages(uow.session, clock.now, timedelta(seconds=delivery.PRIORITY_HOLD_SECONDS),
                                         delivery.PRIORITY_BATCH, events=delivery.PRIORITY_EVENTS)
        uow.commit()
    assert len(claimed) == 1 and c.settings.lease_seconds == 120
    assert delivery.deliver(c, lane="priority").sent == 0  # still held
    clock.advance(seconds=delivery.PRIORITY_HOLD_SECONDS + 0.1)  # not the 120 s of a bulk claim
    assert delivery.deliver(c, lane="priority").sent == 1
    assert _sms_keys(c) == [f"sms:outbox:{claimed[0].id}"]


def _a_receipt_code_already_taken_is_varied_and_the_request_completes(c):
    from canceldesk.service_layer import receipts
    first = accept(c, ALICE, "unsubscribe", "13800138000", "S-DATA")
    other = accept(c, BOB, "cancel_renewal", "13900139000", "S-OTHER")
    taken = receipts.verification_code(c, first.tracking_no)
    with c.engine.begin() as conn:  # another receipt holds the code first's tracking number signs to
        conn.execute(orm.receipts.insert().values(request_id=other.id, tracking_no=other.tracking_no,
                                                  verification_code=taken, issued_at=noon(TODAY), body={}))
    assert engine.drain(c) == 2
    assert statuses(c) == {"S-DATA": "completed", "S-OTHER": "completed"}
    with c.engine.connect() as conn:
        code = conn.execute(select(orm.receipts.c.verification_code)
                            .where(orm.receipts.c.request_id == first.id)).scalar_one()
    assert code == receipts.verification_code(c, first.tracking_no, 1) != taken
    assert receipts.verify(c, code)["tracking_no"] == first.tracking_no  # genuine, and anyone can check it


def test_a_receipt_code_already_taken_is_varied_and_the_request_completes(world):
    # 50 bits of a signature: among 10 million receipts two share a code with a ~4% chance. Before, the request whose
    # code was taken was parked and retried for ever (its code derived again, taken again).
    _a_receipt_code_already_taken_is_varied_and_the_request_completes(world[0])


@pytest.mark.postgres
def test_a_receipt_code_already_taken_is_varied_on_postgresql_too():
    from support import PG_URL
    c = make_container(PG_URL, clock=Clock(noon(TODAY)))
    try:
        seed(c, TODAY)
        c.enqueue_execution = lambda request_id: None
        c.enqueue_delivery = lambda: None
        _a_receipt_code_already_taken_is_varied_and_the_request_completes(c)
    finally:
        c.dispose()
