"""The layers are enforced: `lint-imports` runs the contracts in .importlinter (domain pure, adapters
below the service layer, no entrypoint imported by the service layer, no executor <-> escalations
cycle, no SQL or adapter import in the service modules already behind the ports). A new import
across a layer fails this test with the import chain that broke it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    contracts = (ROOT / ".importlinter").read_text(encoding="utf-8").count("[importlinter:contract:")
    assert f"Contracts: {contracts} kept, 0 broken." in out.stdout
