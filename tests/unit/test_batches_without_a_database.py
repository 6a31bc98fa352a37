"""Enterprise batches on the in-memory unit of work (tests/fakes.py): batches.py reaches its rows only
through the BatchRepository port (`uow.batches`), so choosing lines, pre-checking them and reading
the results run without a database."""
from __future__ import annotations

from datetime import date

import pytest

from canceldesk.bootstrap import load_policy
from canceldesk.domain.model import Customer, Line
from canceldesk.service_layer import batch_export, batches
from canceldesk.service_layer.errors import Conflict, InvalidInput, NotFound
from canceldesk.service_layer.principal import Principal
from fakes import FakeContainer, Store
from support import Clock, noon

TODAY = date(2026, 11, 12)
ADMIN = Principal(kind="staff", id="ea1", role="enterprise_admin", enterprise_id="E001",
                  login_msisdn="13800000009")
CLEAN, IN_ARREARS, ALSO_CLEAN, OTHERS = "13800000001", "13800000002", "13800000003", "13900000001"


@pytest.fixture()
def c() -> FakeContainer:
    store = Store()
    store.customers["E001"] = Customer("E001", "enterprise", "某某电销有限公司", "cn_uscc", "91350100M000100Y43")
    store.customers["E002"] = Customer("E002", "enterprise", "另一家公司", "cn_uscc", "91110000600037341L")
    store.lines[CLEAN] = Line(CLEAN, "E001", cash_balance=1000)
    store.lines[IN_ARREARS] = Line(IN_ARREARS, "E001", arrears=500)
    store.lines[ALSO_CLEAN] = Line(ALSO_CLEAN, "E001")
    store.lines[OTHERS] = Line(OTHERS, "E002")
    return FakeContainer(pack=load_policy("cn"), clock=Clock(noon(TODAY)), store=store)


def test_the_fleet_is_the_companys_own_lines_paged_and_filtered(c):
    page = batches.fleet(c, ADMIN, size=2)
    assert (page["total"], page["pages"], [l["msisdn"] for l in page["lines"]]) == (3, 2, [CLEAN, IN_ARREARS])
    assert [l["msisdn"] for l in batches.fleet(c, ADMIN, flag="arrears")["lines"]] == [IN_ARREARS]
    assert batches.fleet_numbers(c, ADMIN, q="0003") == [ALSO_CLEAN]
    with pytest.raises(InvalidInput) as err:
        batches.fleet(c, ADMIN, flag="everything")
    assert err.value.details == {"field": "filter"}


def test_a_line_of_another_company_reads_like_one_that_does_not_exist_and_nothing_is_created(c):
    with pytest.raises(NotFound) as theirs:
        batches.create(c, ADMIN, [CLEAN, OTHERS])
    with pytest.raises(NotFound) as nobody:
        batches.create(c, ADMIN, [CLEAN, "13700000000"])
    assert theirs.value.message.split(":")[0] == nobody.value.message.split(":")[0] == "no such line"
    assert theirs.value.details == {"msisdns": [OTHERS]}
    assert c.store.batches == {} and c.store.batch_items == {}


def test_prechecks_mark_each_line_and_the_batch_waits_for_the_admin(c):
    created = batches.create(c, ADMIN, [CLEAN, IN_ARREARS, CLEAN], reason="office closed")
    assert (created["phase"], created["size"], created["progress"]) == (
        "prechecking", 2, {"done": 0, "total": 2, "percent": 0})  # the repeated number counts once
    batches.run_prechecks(c, ADMIN, created["id"], lang="en")
    st = batches.status(c, ADMIN, created["id"])
    assert (st["phase"], st["prechecked"], st["eligible"], st["blocked"], st["outcome"]) == (
        "prechecked", 2, 1, 1, None)
    rows = batches.results(c, ADMIN, created["id"], show="blocked")["rows"]
    assert [(r["msisdn"], r["reason_codes"], r["result"]) for r in rows] == [(IN_ARREARS, ["ARREARS"], "not_submitted")]
    assert [r["position"] for r in batches.results(c, ADMIN, created["id"])["rows"]] == [1, 2]
    assert batch_export.results_csv(c, ADMIN, created["id"]).splitlines()[2].split(",")[:4] == [
        "2", IN_ARREARS, "blocked", "ARREARS"]
    assert [b["id"] for b in batches.recent(c, ADMIN)] == [created["id"]]


def test_another_companys_admin_cannot_see_or_submit_the_batch(c):
    created = batches.create(c, ADMIN, [CLEAN])
    other = Principal(kind="staff", id="ea2", role="enterprise_admin", enterprise_id="E002")
    with pytest.raises(NotFound):
        batches.status(c, other, created["id"])
    with pytest.raises(NotFound):
        batches.submit(c, other, created["id"])
    with pytest.raises(Conflict) as err:  # its own admin: still pre-checking
        batches.submit(c, ADMIN, created["id"])
    assert (err.value.code, err.value.details) == ("INVALID_STATE", {"phase": "prechecking"})
