"""A bounded schemathesis run against /openapi.json (in-process ASGI): every operation, data that
fits the schema and data that does not, each role's token — zero server errors (5xx)."""
from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from secworld import build_world

STATS: dict[int, int] = {}
MAX_EXAMPLES = int(os.environ.get("CANCELDESK_SCHEMATHESIS_EXAMPLES", "20"))


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('st')}/st.db", client_rate_limit=1_000_000)
    yield world
    world.c.dispose()


def actor_for(path: str) -> str | None:
    if path.endswith("/logout"):
        return None  # would end the shared session
    for prefix, actor in (("/v1/admin/requests", "reviewer"), ("/v1/admin", "admin"), ("/v1/staff", "agent1"),
                          ("/v1/enterprise", "ea1"), ("/v1", "sub1")):
        if path.startswith(prefix):
            return actor
    return None


def test_no_operation_answers_with_a_server_error(w):
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    for op in operations:
        actor = actor_for(op.path)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(mode))
            def run(case):
                nonlocal calls
                calls += 1
                headers = {**(case.headers or {}), **w.h(actor)} if actor else case.headers
                try:
                    response = case.call(headers=headers)
                except Exception as exc:  # noqa: BLE001 - a crash in the app surfaces here in-process
                    failures.append(f"{op.label} [{mode.value}] raised {type(exc).__name__}: {exc}"[:300])
                    return
                STATS[response.status_code] = STATS.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    failures.append(f"{op.label} [{mode.value}] {response.status_code}: {case.as_curl_command()}"[:500])
            try:
                run()
            except Exception as exc:  # noqa: BLE001 - generation trouble (unsatisfiable schema) is not a 5xx
                if "Unsatisfiable" not in type(exc).__name__:
                    raise
    elapsed = time.monotonic() - started
    print("schemathesis statuses:", dict(sorted(STATS.items())), f"{calls} calls in {elapsed:.1f}s")
    assert not failures, "server errors:\n" + "\n".join(failures[:20])
    assert calls >= len(operations) * 2, calls
    assert elapsed < 120, f"the bounded run took {elapsed:.0f}s"
