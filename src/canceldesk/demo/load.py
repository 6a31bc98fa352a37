"""Load the demo: a fresh SQLite database under var/, the demo document, staff users."""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from zoneinfo import ZoneInfo

from canceldesk.adapters import migrate
from canceldesk.bootstrap import bootstrap, load_policy
from canceldesk.demo.data import DEMO_ENTERPRISE_ADMIN, DEMO_LOGINS, build_demo_document
from canceldesk.service_layer import auth, importer

STAFF = [
    {"username": "admin", "password": "admin-demo-2026", "role": "admin", "name": "系统管理员", "store": None},
    {"username": "agent", "password": "agent-demo-2026", "role": "agent", "name": "王柜员", "store": "BJ-CY-001"},
    {"username": "agent2", "password": "agent2-demo-2026", "role": "agent", "name": "李柜员", "store": "SH-PD-002"},
    {"username": "reviewer", "password": "reviewer-demo-2026", "role": "reviewer", "name": "赵审核", "store": None},
]


def load_demo(settings, reset: bool = True) -> dict:
    if reset and settings.database_url.startswith("sqlite:///"):
        path = settings.database_url[len("sqlite:///"):]
        base = os.path.dirname(os.path.abspath(path))
        for name in (path, path + "-wal", path + "-shm", os.path.join(base, "queue.db"),
                     os.path.join(base, "queue.db-wal"), os.path.join(base, "queue.db-shm")):
            if os.path.exists(name):
                os.remove(name)
    migrate.upgrade(settings.database_url)
    c = bootstrap(settings, with_queue=False)
    today = datetime.now(ZoneInfo(load_policy(settings.policy).timezone)).date()
    doc = build_demo_document(today)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
        tmp = f.name
    try:
        importer.import_path(c, tmp)
    finally:
        os.remove(tmp)
    from canceldesk.demo.fleet import FLEET_ADMIN, build_fleet_document
    importer.import_bytes(c, json.dumps(build_fleet_document(today), ensure_ascii=False).encode(), "application/json")
    for s in STAFF:
        auth.create_staff_user(c, s["username"], s["password"], s["role"], s["name"], s["store"])
    from canceldesk.demo.history import seed_history
    seed_history(c, today)  # 90 days (and the 90 before) of activity for the dashboard and its comparisons
    c.dispose()
    subscribers = [{"msisdn": d["msisdn"], "scenario": d["scenario"], "id_last6": d["id_last6"],
                    "service_password": d["service_password"]} for d in DEMO_LOGINS]
    return {"subscribers": subscribers, "staff": STAFF, "enterprise_admin": DEMO_ENTERPRISE_ADMIN,
            "fleet_admin": FLEET_ADMIN}
