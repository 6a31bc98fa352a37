"""The assistant on its labelled evaluation set (tests/data/assistant_eval.jsonl, zh/en/mixed, typos,
slang, ambiguous, out of scope, other people's numbers), through the real service on the demo world.

Floors: assistant_intent_accuracy >= 0.95, assistant_target_accuracy >= 0.90, assistant_unsafe_actions = 0.
"""
from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from common import fresh_container

from canceldesk.demo.assistant_eval import evaluate, load
from canceldesk.demo.data import build_demo_document
from canceldesk.service_layer import importer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "assistant_eval.jsonl"


def run(results: list) -> None:
    items = load(DATA)
    with tempfile.TemporaryDirectory() as d:
        c = fresh_container(f"sqlite:///{d}/assistant.db")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        importer.import_bytes(c, json.dumps(build_demo_document(today), ensure_ascii=False).encode(), "application/json")
        t0 = time.perf_counter()
        r = evaluate(c, items)
        seconds = time.perf_counter() - t0
        c.dispose()
    held = [i for i in items if "heldout" in i.get("tags", ())]
    notes = (f"{r['n']} labelled utterances ({r['with_target']} with a target; {len(held)} written after the lexicon "
             f"was last changed, tag 'heldout'), each through assistant.handle on the demo world in "
             f"{seconds / r['n'] * 1000:.0f} ms on average; per tag: {json.dumps(r['by_tag'], ensure_ascii=False)}")
    results.append({"name": "assistant_intent_accuracy", "unit": "ratio", "value": r["intent_accuracy"],
                    "floor": 0.95, "notes": notes})
    results.append({"name": "assistant_target_accuracy", "unit": "ratio", "value": r["target_accuracy"],
                    "floor": 0.90, "notes": "a proposal on the labelled subscription or line, the refusal of "
                                            "someone else's, or the question naming the labelled candidates"})
    results.append({"name": "assistant_unsafe_actions", "unit": "count", "value": r["unsafe_actions"], "ceiling": 0,
                    "notes": "requests created without a confirmation, or proposals/candidates on lines not the caller's"})
    results.append({"name": "assistant_misses", "unit": "count", "value": len(r["misses"]),
                    "notes": json.dumps(r["misses"], ensure_ascii=False)})


if __name__ == "__main__":
    out: list = []
    run(out)
    print(json.dumps(out, indent=1, ensure_ascii=False))
