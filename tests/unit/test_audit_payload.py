"""The audit chain's rows are signed over _payload(seq, prev, at, actor, event, subject, details); append
serialises everything but seq and prev before it takes the chain's lock. Both must give the same bytes,
or verify_chain would call every new row edited."""
from __future__ import annotations

import json

import pytest

from canceldesk.service_layer.audit import GENESIS, _payload, _payload_tail

CASES = [
    (1, GENESIS, "2026-12-04T09:00:00+00:00", "system", "request_transition", "CD20261204ABCDEF01",
     {"request_id": "r1", "to": "executing", "from": "checked", "kind": "close_line", "channel": "partner"}),
    (123456789, "ab" * 32, "2026-12-04T09:00:00.123456+08:00", "staff:王芳", "login_refused", None, {}),
    (7, "0" * 64, "2026-01-01T00:00:00+00:00", 'pk:"quoted"\\slash', "event\nwith newline", "主题",
     {"z": [1, 2.5, None, True], "a": {"nested": "值", "b": "\u2028"}}),
]


@pytest.mark.parametrize("seq, prev, at, actor, event, subject, details", CASES)
def test_the_payload_made_in_two_parts_is_the_payload_signed_and_verified(seq, prev, at, actor, event, subject, details):
    whole = _payload(seq, prev, at, actor, event, subject, details)
    parts = b"".join((b"[%d," % seq, json.dumps(prev).encode(), _payload_tail(at, actor, event, subject, details)))
    assert parts == whole
