"""Conformance of /tmf-api/productOrderingManagement/v4 to the OFFICIAL TMF622 v4 swagger
(../shared/tmf beside the repository), not to our own /openapi.json: schemathesis generates
requests from the specification for every operation we serve and checks each answer — no server
error, the status code is one the specification lists, the body is valid against its schema."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from canceldesk.adapters.webhooks import RecordingWebhookGateway
from canceldesk.service_layer import partner_keys
from secworld import build_world

REPO = Path(__file__).resolve().parents[2]
SWAGGER = REPO / ".." / "shared" / "tmf" / "TMF622-ProductOrder-v4.0.0.swagger.json"
SERVED = {("GET", "/productOrder"), ("POST", "/productOrder"), ("GET", "/productOrder/{id}"),
          ("GET", "/cancelProductOrder"), ("POST", "/cancelProductOrder"), ("GET", "/cancelProductOrder/{id}"),
          ("POST", "/hub"), ("DELETE", "/hub/{id}")}
MAX_EXAMPLES = int(os.environ.get("CANCELDESK_TMF_EXAMPLES", "8"))
TMF = "/tmf-api/productOrderingManagement/v4"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('tmf')}/tmf.db", client_rate_limit=1_000_000)
    world.c.webhook_gateway = RecordingWebhookGateway()
    yield world
    world.c.dispose()


def test_the_official_specification_is_beside_the_repository():
    spec = json.loads(SWAGGER.read_text())
    assert spec["swagger"] == "2.0" and spec["basePath"] == "/tmf-api/productOrderingManagement/v4/"
    assert {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops} >= SERVED


def test_every_served_operation_conforms_to_the_official_swagger(w):
    key = partner_keys.issue(w.c, "E001", "conformance", "test")["key"]
    # a real order, so generated ids sometimes... and reads of it answer a full resource
    r = w.client.post("/tmf-api/productOrderingManagement/v4/productOrder", headers={"Authorization": f"Bearer {key}"},
                      json={"productOrderItem": [{"id": "1", "action": "delete", "product": {"id": "18659101002"}}]})
    assert r.status_code == 201, r.text
    schema = schemathesis.openapi.from_dict(json.loads(SWAGGER.read_text()))
    schema.app = w.client.app
    operations = [o.ok() for o in schema.get_all_operations()]
    served = [o for o in operations if (o.method.upper(), o.path) in SERVED]
    assert len(served) == len(SERVED)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    calls = 0
    started = time.monotonic()
    for op in served:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(mode))
            def run(case):
                nonlocal calls
                calls += 1
                headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
                try:
                    response = case.call(headers=headers)
                except Exception as exc:  # noqa: BLE001 - an app crash surfaces here in-process
                    failures.append(f"{op.label} [{mode.value}] raised {type(exc).__name__}: {exc}"[:300])
                    return
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                checks = CHECKS if mode == GenerationMode.POSITIVE else [not_a_server_error, response_schema_conformance]
                try:
                    case.validate_response(response, checks=checks, headers=headers)
                except Exception as exc:  # noqa: BLE001 - collect every failure, report them together
                    failures.append(f"{op.label} [{mode.value}] {response.status_code}: {str(exc)[:400]}")
            try:
                run()
            except Exception as exc:  # noqa: BLE001 - generation trouble (unsatisfiable schema) is not a failure
                if "Unsatisfiable" not in type(exc).__name__:
                    raise
    elapsed = time.monotonic() - started
    print("tmf622 conformance statuses:", dict(sorted(statuses.items())), f"{calls} calls in {elapsed:.1f}s")
    assert not failures, "not conforming:\n" + "\n".join(failures[:15])
    assert calls >= len(SERVED) * 2
    assert 200 in statuses and 400 in statuses


def _operations(app) -> dict:
    schema = schemathesis.openapi.from_dict(json.loads(SWAGGER.read_text()))
    schema.app = app
    return {(o.method.upper(), o.path): o for o in (r.ok() for r in schema.get_all_operations())}


def test_a_partners_real_calls_are_valid_against_the_official_swagger(w):
    """Generated data mostly names products nobody has; these are the successful answers."""
    ops = _operations(w.client.app)
    h = {"Authorization": f"Bearer {partner_keys.issue(w.c, 'E001', 'conformance', 'test')['key']}"}
    calls = []

    def check(method: str, path: str, url: str, expected: int, **kw):
        r = w.client.request(method, TMF + url, headers=h, **kw)
        assert r.status_code == expected, (url, r.status_code, r.text)
        ops[(method, path)].validate_response(r)   # raises with the schema error when not valid
        calls.append((method, path))
        return r

    hub = check("POST", "/hub", "/hub", 201, json={"callback": "https://partner.example/events"}).json()
    body = {"externalId": "x-1", "relatedParty": [{"id": "E001", "role": "customer", "@referredType": "Organization"}],
            "productOrderItem": [{"id": "1", "action": "delete", "product": {"id": "18659101001"}},
                                 {"id": "2", "action": "delete", "product": {"id": "18659101000"}},
                                 {"id": "3", "action": "delete", "product": {"id": "18659102000"}}]}
    order = check("POST", "/productOrder", "/productOrder", 201, json=body).json()
    got = check("GET", "/productOrder/{id}", f"/productOrder/{order['id']}", 200).json()
    # item 2: the line already has an open request; item 3: another company's line
    assert got["state"] == "partial" and [n["id"] for n in got["note"]] == ["item-2", "item-3"]
    check("GET", "/productOrder", "/productOrder", 200, params={"fields": "state,orderDate", "limit": 5})
    check("GET", "/productOrder/{id}", "/productOrder/nope", 404)
    w.c.enqueue_order, saved = (lambda order_id: None), w.c.enqueue_order
    try:
        waiting = check("POST", "/productOrder", "/productOrder", 201, json={"productOrderItem": [
            {"id": "1", "action": "delete", "product": {"id": "18659101002"}}]}).json()
    finally:
        w.c.enqueue_order = saved
    cancel = check("POST", "/cancelProductOrder", "/cancelProductOrder", 201,
                   json={"productOrder": {"id": waiting["id"]}, "cancellationReason": "changed my mind"}).json()
    check("GET", "/cancelProductOrder/{id}", f"/cancelProductOrder/{cancel['id']}", 200)
    check("GET", "/cancelProductOrder", "/cancelProductOrder", 200)
    check("POST", "/cancelProductOrder", "/cancelProductOrder", 409, json={"productOrder": {"id": waiting["id"]}})
    check("DELETE", "/hub/{id}", f"/hub/{hub['id']}", 204)
    check("POST", "/productOrder", "/productOrder", 400, json={"productOrderItem": [
        {"id": "1", "action": "add", "product": {"id": "18659101003"}}]})
    assert set(calls) == SERVED
