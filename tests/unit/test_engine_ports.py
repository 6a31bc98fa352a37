"""The engine, the executor and the deliverer reach storage only through their ports
(service_layer/ports.py: RunStore, DeliveryStore): none of them imports SQLAlchemy or an adapter."""
from __future__ import annotations

from pathlib import Path

import pytest

import canceldesk.service_layer
from tests.unit.test_domain_purity import imported_modules

SERVICE_DIR = Path(canceldesk.service_layer.__file__).parent


@pytest.mark.parametrize("module", ["engine", "executor", "delivery"])
def test_the_engine_modules_import_no_sql_and_no_adapter(module):
    source = (SERVICE_DIR / f"{module}.py").read_text(encoding="utf-8")
    found = imported_modules(source, package="canceldesk.service_layer")
    offending = sorted(m for m in found if m.split(".")[0] == "sqlalchemy" or m.startswith("canceldesk.adapters"))
    assert offending == []


def test_the_sql_unit_of_work_provides_the_engine_ports():
    from canceldesk.adapters.engine_store import SqlDeliveryStore, SqlRunStore
    from canceldesk.service_layer.ports import DeliveryStore, RunStore
    for port, impl in ((RunStore, SqlRunStore), (DeliveryStore, SqlDeliveryStore)):
        wanted = {n for n in vars(port) if not n.startswith("_")}
        assert wanted - set(dir(impl)) == set()
