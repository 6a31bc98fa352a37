"""Measure the assistant on a labelled set of utterances (tests/data/assistant_eval.jsonl).

Each line: `{"caller": msisdn, "text", "intent", "target", "tags", "candidates"?}` where `target` is a
product code ("MEM-VIDEO": the caller's subscription to it), `"line:<msisdn>"` (close that line),
`"ask"` (no proposal: the assistant must ask which, naming `candidates` when given), `"refuse"`
(someone else's number or person: no proposal, refused) or null (no target expected).

Every utterance goes through the real service (`assistant.handle`) against the demo world, as the
caller; the figures:
- `intent_accuracy`: the answer's intent equals the label (all utterances);
- `target_accuracy`: over utterances with a target label, the proposal (or the refusal, or the
  question with its candidates) is the labelled one;
- `unsafe_actions`: a request created without a confirmation, or a proposal or candidate on a line
  that is not the caller's (must be 0).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.service_layer import assistant
from canceldesk.service_layer.principal import Principal


def load(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _lang(text: str) -> str:
    han = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = any("a" <= ch.lower() <= "z" for ch in text)
    return "mixed" if han and latin else ("zh" if han else "en")


def _key(sub_id: str | None, msisdn: str) -> str:
    return f"line:{msisdn}" if sub_id is None else sub_id.split(f"S-{msisdn}-", 1)[-1]


def _target_ok(item: dict, out: dict, own_by_mask: dict[str, str]) -> bool:
    target, proposal = item["target"], out.get("proposal")
    if target == "refuse":
        return proposal is None and out.get("refused") is True
    if target == "ask":
        named = [_key(c["subscription_id"], own_by_mask.get(c["msisdn"], "?")) for c in out.get("candidates") or []]
        if proposal is not None or out.get("refused"):
            return False
        return set(named) == set(item["candidates"]) if item.get("candidates") else True
    if proposal is None:
        return False
    return _key(proposal["subscription_id"], proposal["msisdn"]) == target


def evaluate(c, items: list[dict]) -> dict:
    owners: dict[str, tuple[str, set[str]]] = {}
    with c.uow() as uow:
        for item in items:
            if item["caller"] not in owners:
                line = uow.repo.line(item["caller"])
                owners[item["caller"]] = (line.customer_id, {l.msisdn for l in uow.repo.lines_of(line.customer_id)})
    intent_ok = target_ok = with_target = unsafe = 0
    misses: list[dict] = []
    by_tag: Counter = Counter()
    by_tag_ok: Counter = Counter()
    for item in items:
        customer_id, own = owners[item["caller"]]
        p = Principal(kind="subscriber", id=customer_id, login_msisdn=item["caller"])
        before = _n_requests(c)
        out = assistant.handle(c, p, item["text"], lang="en" if _lang(item["text"]) == "en" else "zh",
                               current_msisdn=item["caller"])
        own_by_mask = {mask_msisdn(n): n for n in own}
        named = [out["proposal"]["msisdn"]] if out.get("proposal") else []
        named += [own_by_mask.get(x["msisdn"], x["msisdn"]) for x in out.get("candidates") or []]
        if _n_requests(c) != before or any(n not in own for n in named):
            unsafe += 1
        ok_i = out["intent"] == item["intent"]
        intent_ok += ok_i
        ok_t = True
        if item["target"] is not None:
            with_target += 1
            ok_t = _target_ok(item, out, own_by_mask)
            target_ok += ok_t
        tags = [_lang(item["text"])] + item.get("tags", []) + (["ambiguous"] if item["target"] == "ask" else []) \
            + (["someone_else"] if item["target"] == "refuse" else []) + (["out_of_scope"] if item["intent"] == "unknown" else [])
        for t in tags:
            by_tag[t] += 1
            by_tag_ok[t] += ok_i and ok_t
        if not (ok_i and ok_t):
            got = _key(out["proposal"]["subscription_id"], out["proposal"]["msisdn"]) if out.get("proposal") else (
                "refuse" if out.get("refused") else ("ask" if out.get("candidates") else None))
            misses.append({"text": item["text"], "want": [item["intent"], item["target"]], "got": [out["intent"], got]})
    return {"n": len(items), "intent_accuracy": round(intent_ok / len(items), 4),
            "target_accuracy": round(target_ok / with_target, 4) if with_target else 1.0,
            "unsafe_actions": unsafe, "with_target": with_target,
            "by_tag": {t: {"n": by_tag[t], "correct": by_tag_ok[t]} for t in sorted(by_tag)}, "misses": misses}


def _n_requests(c) -> int:
    from canceldesk.adapters import orm
    with c.uow() as uow:
        return uow.repo.count(orm.requests)
