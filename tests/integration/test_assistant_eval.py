"""The assistant's floors on the labelled evaluation set (the same figures `make bench` writes)."""
from __future__ import annotations

from pathlib import Path

from canceldesk.demo.assistant_eval import evaluate, load
from web_support import demo_container

DATA = Path(__file__).resolve().parent.parent / "data" / "assistant_eval.jsonl"


def test_the_evaluation_set_is_large_and_varied():
    items = load(DATA)
    assert len(items) >= 300
    intents = {i["intent"] for i in items}
    assert intents == {"unsubscribe", "cancel_renewal", "close_line", "query", "complaint", "human", "unknown"}
    assert sum(i["target"] == "refuse" for i in items) >= 10 and sum(i["target"] == "ask" for i in items) >= 20
    assert len({(i["caller"], i["text"]) for i in items}) == len(items), "each utterance once per caller"


def test_floors_intent_target_and_no_unsafe_action(tmp_path):
    c = demo_container(tmp_path / "eval.db")
    r = evaluate(c, load(DATA))
    c.dispose()
    assert r["unsafe_actions"] == 0
    assert r["intent_accuracy"] >= 0.95, r["misses"]
    assert r["target_accuracy"] >= 0.90, r["misses"]
    assert r["by_tag"]["someone_else"]["correct"] == r["by_tag"]["someone_else"]["n"]
