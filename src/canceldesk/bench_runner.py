"""`canceldesk bench` / `make bench`: run bench/bench_*.py and write bench/results/latest.json.

Every figure is written beside the ceiling it was measured against in the same run.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import sys
import time
import traceback
from pathlib import Path

ORDER = ["engine", "http", "import", "workers", "fleet", "assistant", "fleet_order"]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(only: list[str] | None = None) -> int:
    root = Path.cwd() / "bench"
    if not root.is_dir():
        print("run `canceldesk bench` from the repository root (bench/ not found)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(root))
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("huey", "httpx", "canceldesk", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from common import machine  # noqa: E402  (bench/common.py)
    names = [n for n in ORDER if (root / f"bench_{n}.py").exists() and (not only or n in only)]
    out = {"machine": machine(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": [], "errors": []}
    for name in names:
        print(f"bench: {name} …", flush=True)
        t0 = time.perf_counter()
        try:
            _load(root / f"bench_{name}.py").run(out["runs"])
        except Exception as exc:  # noqa: BLE001 - a failed benchmark is reported, not hidden
            traceback.print_exc()
            out["errors"].append({"bench": name, "error": f"{type(exc).__name__}: {exc}"})
        print(f"bench: {name} done in {time.perf_counter() - t0:.1f}s", flush=True)
    results = root / "results"
    results.mkdir(exist_ok=True)
    path = results / "latest.json"
    if only and path.exists():  # a partial run keeps the other benchmarks' last figures
        previous = json.loads(path.read_text())
        keep = [r for r in previous.get("runs", []) if not any(r["name"].startswith(p) for p in _prefixes(only))]
        out["runs"] = keep + out["runs"]
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    for r in out["runs"]:
        ratio = f" ratio {r['ratio']}" if r.get("ratio") is not None else ""
        print(f"  {r['name']:<45} {r['value']:>12} {r['unit']}{ratio}")
    print(f"wrote {path}")
    return 1 if out["errors"] else 0


def _prefixes(only: list[str]) -> list[str]:
    m = {"engine": ["engine_"], "http": ["http_"], "import": ["import_"], "workers": ["workers_", "backlog_"],
         "fleet": ["fleet_batch_", "otp_"], "assistant": ["assistant_"], "fleet_order": ["fleet_order_"]}
    return [p for o in only for p in m.get(o, [o])]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or None))
