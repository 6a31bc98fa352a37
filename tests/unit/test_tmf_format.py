"""The TMF622 shapes: item and order states from the requests, Z date-times, attribute selection."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from canceldesk.service_layer import product_orders, tmf_format
from canceldesk.service_layer.errors import InvalidInput


@pytest.mark.parametrize("row,state", [
    ({"status": None}, "acknowledged"), ({"status": "executing"}, "inProgress"), ({"status": "completed"}, "completed"),
    ({"status": "rejected"}, "failed"), ({"status": "failed"}, "failed"), ({"status": "withdrawn"}, "cancelled"),
    ({"status": None, "error_code": "CANCELLED"}, "cancelled"), ({"status": None, "error_code": "PRODUCT_NOT_FOUND"}, "rejected"),
])
def test_item_state(row, state):
    assert tmf_format.item_state(row) == state


@pytest.mark.parametrize("counts,total,started,state", [
    ({"": 3}, 3, False, "acknowledged"), ({"": 2, "completed": 1}, 3, True, "inProgress"),
    ({"executing": 1, "completed": 2}, 3, True, "inProgress"), ({"completed": 3}, 3, True, "completed"),
    ({"completed": 47, "rejected": 3}, 50, True, "partial"), ({"rejected": 2, "failed": 1}, 3, True, "failed"),
    ({"error:CANCELLED": 2, "withdrawn": 1}, 3, True, "cancelled"), ({"error:CANCELLED": 2, "completed": 1}, 3, True, "partial"),
])
def test_order_state(counts, total, started, state):
    assert tmf_format.order_state(counts, total, started) == state


def test_date_times_are_utc_with_z_and_milliseconds():
    assert tmf_format.zulu(datetime(2026, 12, 2, 10, 5, 7, 123456, tzinfo=timezone.utc)) == "2026-12-02T10:05:07.123Z"
    assert product_orders.parse_time("2026-12-02T10:05:07.123Z", "orderDate") == \
        datetime(2026, 12, 2, 10, 5, 7, 123000, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput):
        product_orders.parse_time("2026-12-02T10:05:07", "orderDate")


def test_fields_keep_id_href_and_what_the_specification_requires():
    resource = {"id": "1", "href": "/x", "state": "completed", "orderDate": "t", "productOrderItem": []}
    assert tmf_format.pick(resource, ["state"]) == {"id": "1", "href": "/x", "state": "completed", "productOrderItem": []}


@pytest.mark.parametrize("item,kind", [
    ({"id": "1", "action": "delete", "product": {"id": "18659101001"}}, "close_line"),
    ({"id": "1", "action": "delete", "product": {"productCharacteristic": [{"name": "MSISDN", "value": "+86 186 5910 1001"}]}},
     "close_line"),
    ({"id": "1", "action": "delete", "product": {"id": "S-1"}}, "unsubscribe"),
    ({"id": "1", "action": "modify", "product": {"id": "S-1", "productCharacteristic": [{"name": "autoRenew", "value": "false"}]}},
     "cancel_renewal"),
])
def test_items_map_to_request_kinds(item, kind):
    assert product_orders._parse_item(0, item)["kind"] == kind


@pytest.mark.parametrize("action", ["add", "noChange"])
def test_add_and_no_change_are_refused(action):
    with pytest.raises(InvalidInput) as exc:
        product_orders._parse_item(4, {"id": "1", "action": action, "product": {"id": "18659101001"}})
    assert exc.value.code == "ACTION_NOT_SUPPORTED" and exc.value.details == {"field": "productOrderItem[4].action"}
