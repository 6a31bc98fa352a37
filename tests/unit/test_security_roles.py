"""One roles table (issue 8): `service_layer/principal.MAY` decides which role may do what; the
API's dependencies, the pages' areas and the templates read it, and no module repeats a list of
roles of its own (a repeated list is how the pages came to show agents what the API refused)."""
from __future__ import annotations

import re
from pathlib import Path

from canceldesk.entrypoints.api import deps
from canceldesk.entrypoints.web import pages
from canceldesk.service_layer.principal import MAY, ROLES, Principal, may

SRC = Path(deps.__file__).parents[2]
ROLE_LIST = re.compile(r"""[\(\[]\s*["'](?:subscriber|agent|reviewer|admin|enterprise_admin)["']\s*,""")


def test_the_api_dependencies_are_the_table():
    wanted = {"CurrentSubscriber": "own_lines", "CurrentRequester": "request", "CurrentAdmin": "admin",
              "CurrentStaff": "staff_pages", "CurrentCounterStaff": "counter", "CurrentReviewer": "review",
              "CurrentEnterpriseAdmin": "enterprise"}
    for name, action in wanted.items():
        dep = getattr(deps, name).__metadata__[0].dependency
        assert tuple(dep.roles) == MAY[action], name


def test_the_page_areas_are_the_table():
    assert {a: roles for a, (roles, _) in pages.AREAS.items()} == {
        "portal": MAY["own_lines"], "counter": MAY["staff_pages"], "enterprise": MAY["enterprise"],
        "dashboard": MAY["admin"]}


def test_no_module_or_template_repeats_a_list_of_roles():
    offenders = []
    for path in list(SRC.rglob("*.py")) + list(SRC.rglob("*.html")):
        if path.name == "principal.py" or "demo" in path.parts or "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ROLE_LIST.search(line):
                offenders.append(f"{path.relative_to(SRC)}:{n}: {line.strip()}")
    assert offenders == []


def test_may_answers_for_a_principal_and_a_role():
    agent = Principal(kind="staff", id="a1", role="agent", store="S1")
    assert may(agent, "counter") and not may(agent, "review") and not may(agent, "any_customer")
    assert may("reviewer", "review") and not may("reviewer", "counter")
    assert all(set(roles) <= set(ROLES) for roles in MAY.values())
