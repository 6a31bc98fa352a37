"""The TMF622 shapes: item and order states from the requests, Z date-times, attribute selection."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from canceldesk.service_layer import tmf_format, tmf_parse
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
    assert tmf_parse.parse_time("2026-12-02T10:05:07.123Z", "orderDate") == \
        datetime(2026, 12, 2, 10, 5, 7, 123000, tzinfo=timezone.utc)
    with pytest.raises(InvalidInput):
        tmf_parse.parse_time("2026-12-02T10:05:07", "orderDate")


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
    assert tmf_parse.parse_item(0, item)["kind"] == kind


@pytest.mark.parametrize("action", ["add", "noChange"])
def test_add_and_no_change_are_refused(action):
    with pytest.raises(InvalidInput) as exc:
        tmf_parse.parse_item(4, {"id": "1", "action": action, "product": {"id": "18659101001"}})
    assert exc.value.code == "ACTION_NOT_SUPPORTED" and exc.value.details == {"field": "productOrderItem[4].action"}


# ---- the order body read member by member (tmf_format.members) -----------------------------------
import json as _json  # noqa: E402

from canceldesk.service_layer.tmf_format import NotJson, members  # noqa: E402


def _read_all(text: str) -> dict:
    out = {}
    for key, value in members(text, "productOrderItem"):
        out[key] = list(value) if hasattr(value, "__next__") else value
    return out


@pytest.mark.parametrize("text", [
    "{}", ' {"productOrderItem": []} ', '{"a": 1, "productOrderItem": [{"id": "1", "product": {"id": "x"}}, 2], "b": [1]}',
    '{"x": {"productOrderItem": [1]}, "productOrderItem": [\n{"id":"\\u4e2d"}\n]}', '{"productOrderItem": "not a list"}'])
def test_members_read_what_json_loads_reads(text):
    assert _read_all(text) == _json.loads(text)


def test_items_come_one_at_a_time_not_as_a_list():
    key, items = next(members('{"productOrderItem": [1, 2, 3]}', "productOrderItem"))
    assert key == "productOrderItem" and not isinstance(items, list) and next(items) == 1


@pytest.mark.parametrize("text, message", [
    ("", "the body is empty"),
    ("{not json", "the body is not valid JSON: a member name expected at character 1"),
    ('{"a": 1,}', "the body is not valid JSON: a member name expected at character 8"),
    ('{"productOrderItem": [1,]}', "the body is not valid JSON: Expecting value at character 24"),
    ('{"productOrderItem": [1 2]}', "the body is not valid JSON: ',' or ']' expected at character 24"),
    ('{"a": 1} x', "the body is not valid JSON: extra data at character 9"),
    ('[{"a": 1}]', "the body is a ProductOrder_Create object"),
    ("[1] x", "the body is not valid JSON: extra data at character 4"),
])
def test_a_malformed_body_says_where(text, message):
    with pytest.raises(NotJson) as exc:
        _read_all(text)
    assert str(exc.value) == message
