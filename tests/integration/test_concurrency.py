"""Two requests race for one target: exactly one proceeds, the other learns the first's tracking number."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from canceldesk.service_layer import requests as svc
from canceldesk.service_layer.errors import Conflict
from canceldesk.service_layer.principal import Principal
from support import PG_URL, Clock, make_container, noon, seed

TODAY = date(2026, 11, 12)


@pytest.fixture(params=["sqlite", "postgresql"])
def c(request, tmp_path):
    url = f"sqlite:///{tmp_path}/race.db" if request.param == "sqlite" else PG_URL
    container = make_container(url, clock=Clock(noon(TODAY)))
    seed(container, TODAY)
    yield container
    container.dispose()


@pytest.mark.parametrize("kind,sub", [("close_line", None), ("cancel_renewal", "S-VIDEO")])
def test_exactly_one_of_two_concurrent_requests_proceeds(c, kind, sub):
    me = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
    barrier = threading.Barrier(8)
    outcomes: list = []

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            req, _ = svc.create_request(c, me, svc.NewRequest(kind=kind, msisdn="13800138000", subscription_id=sub,
                                                              acknowledged_warnings=("GIFT_BALANCE_FORFEIT",)))
            outcomes.append(("created", req.tracking_no))
        except Conflict as exc:
            outcomes.append((exc.code, (exc.details or {}).get("tracking_no")))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    created = [o for o in outcomes if o[0] == "created"]
    assert len(outcomes) == 8
    assert len(created) == 1, outcomes
    winner = created[0][1]
    assert all(o == ("OPEN_REQUEST", winner) for o in outcomes if o[0] != "created"), outcomes


def test_same_idempotency_key_concurrently_yields_one_request(c):
    me = Principal(kind="subscriber", id="C001", login_msisdn="13800138000")
    results: list = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            req, created = svc.create_request(c, me, svc.NewRequest(kind="unsubscribe", msisdn="13800138000",
                                                                    subscription_id="S-CRBT", idempotency_key="same-key"))
            results.append(req.tracking_no)
        except Conflict as exc:
            results.append((exc.details or {}).get("tracking_no"))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4 and len(set(results)) == 1, results
    with c.uow() as uow:
        assert len(uow.repo.requests_of("C001")) == 1
