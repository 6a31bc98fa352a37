"""The TMF622 and partner-key use cases reach storage only through the unit of work's ports
(service_layer/ports.py: OrderStore, PartnerStore), never through SQL or an adapter directly."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "src" / "canceldesk" / "service_layer"


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.add(node.module or "")
    return out


@pytest.mark.parametrize("module", ["product_orders.py", "tmf_hubs.py", "partner_keys.py", "tmf_format.py"])
def test_the_module_imports_no_sql_and_no_adapter(module):
    bad = sorted(m for m in _imports(SERVICE / module)
                 if m == "sqlalchemy" or m.startswith(("sqlalchemy.", "canceldesk.adapters")))
    assert bad == []


def test_the_unit_of_work_offers_the_order_and_partner_stores():
    from canceldesk.adapters.order_store import SqlOrderStore
    from canceldesk.adapters.partner_store import SqlPartnerStore
    from canceldesk.service_layer import ports

    for protocol, impl in ((ports.OrderStore, SqlOrderStore), (ports.PartnerStore, SqlPartnerStore)):
        wanted = {n for n in vars(protocol) if not n.startswith("_")}
        assert wanted and wanted <= set(vars(impl)), sorted(wanted - set(vars(impl)))
    assert {"orders", "partner_api"} <= set(ports.UnitOfWork.__annotations__)
