"""Instructions per completed request of `engine.drain`, counted by callgrind: a measure of the engine's CPU
cost that, unlike throughput or CPU time, does not move with the machine's load.

    cd bench && PYTHONPATH=../src:. python callgrind_engine.py [sqlite|postgresql ...] [--n 600] [--group 200]

For each backend it seeds N accepted unsubscribes as bench_engine.py does (common.seed_lines +
accepted_unsubscribes), then runs `engine.drain(c, limit=group)` in this process under
`valgrind --tool=callgrind --instr-atstart=no`, instrumenting only the drain (a tiny C shim, built with gcc
on first use, issues CALLGRIND_START/STOP_INSTRUMENTATION around it). The count covers every thread of the
process (the lanes' downstream pool included), not the PostgreSQL server's. The young-generation GC
threshold is the Engine's (engine._young_collections_less_often). `--warm` more requests (default 20) are
drained first, not counted, so the count is the steady state's (statements compiled, caches filled). `--group 2` measures the fixed cost of a
round at the small groups a worker sees under a trickle of requests. The callgrind.out files are kept in
bench/results/ for callgrind_annotate; `--profile` writes a cProfile of the same drain (outside valgrind) instead.
PostgreSQL: CANCELDESK_BENCH_PG_URL (recreated).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM_C = r"""
#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("drain"); }
"""


def _shim() -> ctypes.CDLL:
    out = Path(tempfile.gettempdir()) / f"cg_shim_{os.getuid()}.so"
    if not out.exists():
        src = out.with_suffix(".c")
        src.write_text(SHIM_C)
        subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(out), str(src)], check=True)
    return ctypes.CDLL(str(out))


def child(backend: str, n: int, group: int, profile: bool, warm: int) -> None:
    from common import PG_URL, accepted_unsubscribes, completed, fresh_container, seed_lines

    from canceldesk.service_layer import engine
    with tempfile.TemporaryDirectory() as d:
        url = f"sqlite:///{d}/cg.db" if backend == "sqlite" else PG_URL
        c = fresh_container(url)
        c.enqueue_delivery = lambda: None
        try:
            pairs = seed_lines(c, n + warm, date.today())
            engine._young_collections_less_often()
            accepted_unsubscribes(c, pairs[n:])
            engine.drain(c, limit=group)  # warm-up, not counted: statements compiled, caches filled
            ids = accepted_unsubscribes(c, pairs[:n])
            if profile:
                import cProfile
                import pstats
                prof = cProfile.Profile(time.thread_time)  # this thread's CPU: waits for the pool are not its cost
                prof.enable()
                engine.drain(c, limit=group)
                prof.disable()
                path = HERE / "results" / f"engine-cprofile-{backend}-g{group}.txt"
                with path.open("w") as f:
                    pstats.Stats(prof, stream=f).sort_stats("tottime").print_stats(60)
                    pstats.Stats(prof, stream=f).sort_stats("cumulative").print_stats(80)
                print(f"cProfile written to {path}")
            else:
                shim = _shim()
                shim.cg_start()
                engine.drain(c, limit=group)
                shim.cg_stop()
            done = completed(c, ids)
            print(f"COMPLETED {done}")
        finally:
            c.dispose()


def parent(backends: list[str], n: int, group: int, warm: int) -> None:
    (HERE / "results").mkdir(exist_ok=True)
    for backend in backends:
        out = HERE / "results" / f"callgrind.engine.{backend}.g{group}.out"
        for old in out.parent.glob(out.name + "*"):
            old.unlink()
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
               sys.executable, __file__, "--child", backend, "--n", str(n), "--group", str(group), "--warm", str(warm)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
        m = re.search(r"COMPLETED (\d+)", proc.stdout)
        dumps = sorted(out.parent.glob(out.name + "*"))
        total = 0
        for dump in dumps:  # a dump's count is on its `totals:` line (its `summary:` may say 0)
            counts = [int(line.split()[1]) for line in dump.read_text(errors="replace").splitlines()
                      if line.startswith(("summary:", "totals:"))]
            total += max(counts, default=0)
        if not m or not total:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"{backend}: no count")
        done = int(m.group(1))
        print(f"{backend}: {done}/{n} completed, group {group}: {total:,} instructions, "
              f"{total / max(1, done) / 1e6:.3f}M per request ({', '.join(d.name for d in dumps)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("backends", nargs="*", default=["sqlite", "postgresql"])
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--group", type=int, default=200)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--child")
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    if a.child or a.profile:
        for backend in ([a.child] if a.child else a.backends):
            child(backend, a.n, a.group, a.profile, a.warm)
    else:
        parent(a.backends, a.n, a.group, a.warm)


if __name__ == "__main__":
    main()
