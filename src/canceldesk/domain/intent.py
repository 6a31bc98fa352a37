"""What a subscriber's own words ask for, and which of their own things they name.

`understand(text, targets, current_msisdn)` → `Understanding(intent, target, candidates, note)`.
Pure: the caller passes the only things that may ever be matched (their own lines and
subscriptions, as `Target`s); a number or a person that is not among them is refused, never
looked up. Chinese, English and mixed text; typos are caught three ways: the text is normalised
(全角→半角, case), Chinese keywords are also matched on pinyin (退定 → 退订, 腾迅 → 腾讯), and Latin
words are matched with a fuzzy ratio (unsubscibe → unsubscribe). jieba splits product names into
the words people use for them ("黄金", "加油包").
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

from . import intent_lexicon as lx

INTENTS = ("unsubscribe", "cancel_renewal", "close_line", "query", "complaint", "human", "unknown")
ENDABLE_KINDS = ("vas", "membership")

_RX = {name: lx.compile_all(getattr(lx, name)) for name in
       ("HUMAN", "COMPLAINT_STRONG", "COMPLAINT_WEAK", "CLOSE", "RENEWAL", "UNSUBSCRIBE", "QUERY", "NEW_SERVICE",
        "NEGATED_ACTION", "THIRD_PARTY", "THIS_NUMBER", "PRIMARY_WORDS", "SECONDARY_WORDS", "KEEP_NUMBER_WORDS")}
_MSISDN = re.compile(r"(?<!\d)(?:\+?86|0086)?[\s-]*(1[3-9]\d(?:[\s-]?\d){8})(?!\d)")
_TAIL = re.compile(r"(?:尾号|末四位|后四位|结尾是|ending(?: in| with)?|ends? (?:in|with)|last (?:four|4)(?: digits)?)\D{0,4}(\d{4})(?!\d)")
_LATIN_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_NUMBER_ENDING = r"注销|销户|销号|销掉|销了|不用了|不要了|停用|close|cancel|terminate|shut|disconnect|deactivate"
_BARE_TAIL = re.compile(r"(?<!\d)(\d{4})(?!\d)")


@dataclass(frozen=True)
class Target:
    """One of the caller's own things: a line (`subscription_id` None) or a subscription on it."""
    msisdn: str
    subscription_id: str | None = None
    product_kind: str | None = None        # plan | vas | membership
    name_zh: str = ""
    name_en: str = ""
    partner: str | None = None
    price: int = 0                          # fen per period
    period: str = "month"
    auto_renew: bool = False
    active: bool = True
    is_secondary: bool = False
    plan_name: str = ""                     # a line's plan (保号套餐 …), to tell lines apart

    @property
    def is_line(self) -> bool:
        return self.subscription_id is None

    def name(self, lang: str = "zh") -> str:
        if self.is_line:
            return self.msisdn
        return self.name_en if lang.startswith("en") else self.name_zh


@dataclass(frozen=True)
class Understanding:
    intent: str
    target: Target | None = None
    candidates: tuple[Target, ...] = ()
    note: str = "clear"   # clear | ambiguous | nothing_named | no_match | not_yours | not_applicable
    foreign: tuple[str, ...] = field(default=())   # numbers named that are not the caller's (kept to refuse)


# ---- text preparation -------------------------------------------------------------------------
def normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = t.replace("’", "'").replace("‘", "'")
    return re.sub(r"\s+", " ", t).strip()


@lru_cache(maxsize=1)
def _pinyin_vocab() -> list[tuple[str, str]]:
    words = {w for ws in lx.PINYIN_KEYWORDS.values() for w in ws}
    words |= {w for ws in lx.CATEGORIES.values() for w in ws if _is_han(w) and len(w) >= 2}
    words |= {w for ws in lx.BRANDS.values() for w in ws if _is_han(w) and len(w) >= 2}
    return [(w, _py(w)) for w in sorted(words)]


@lru_cache(maxsize=1)
def _latin_vocab() -> list[str]:
    words = {w for ws in lx.FUZZY_WORDS.values() for w in ws}
    words |= {w for ws in lx.CATEGORIES.values() for w in ws if w.isascii() and len(w) >= 4 and " " not in w}
    words |= {w for ws in lx.BRANDS.values() for w in ws if w.isascii() and len(w) >= 4}
    return sorted(words)


def _is_han(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def _py(s: str) -> str:
    from pypinyin import lazy_pinyin
    return " " + " ".join(lazy_pinyin(s)) + " "


def augment(text: str) -> str:
    """The normalised text plus the keywords its homophone or spelling typos stand for."""
    t = normalise(text)
    extra: list[str] = []
    if _is_han(t):
        py = _py(t)
        extra += [w for w, wpy in _pinyin_vocab() if w not in t and wpy in py]
    vocab = _latin_vocab()
    for word in {w.split("'")[0] for w in _LATIN_WORD.findall(t)}:  # "son's" is "son", never "songs"
        if len(word) < 5 or word in vocab:
            continue
        hit = process.extractOne(word, vocab, scorer=fuzz.ratio, score_cutoff=80)
        if hit:
            extra.append(hit[0])
    return t + (" | " + " ".join(extra) if extra else "")


def _any(name: str, t: str) -> bool:
    return any(rx.search(t) for rx in _RX[name])


# ---- intent ----------------------------------------------------------------------------------
def classify(text: str) -> str:
    t = augment(text)
    return _classify(t)


def _classify(t: str) -> str:
    if not t.strip(" |"):
        return "unknown"
    if _any("HUMAN", t):
        return "human"
    if _any("COMPLAINT_STRONG", t):
        return "complaint"
    if _any("NEGATED_ACTION", t) and not _any("RENEWAL", t.replace("不要再", "")):
        return "query" if _any("QUERY", t) else "unknown"
    close, renewal, unsub = _any("CLOSE", t), _any("RENEWAL", t), _any("UNSUBSCRIBE", t)
    query = _any("QUERY", t)
    if _MSISDN.search(t) and not _names_product(t) and re.search(_NUMBER_ENDING, t):
        close = True  # "注销15001186420", "my son's number 151… please close it": a number and an ending verb
    if _any("NEW_SERVICE", t) and not (close or renewal or unsub):
        return "unknown"  # signing up, topping up, upgrading: canceldesk only ends things
    # "我有哪些自动续费" / "which of my things auto-renew?" ask; they do not act.
    asks_only = query and not unsub and not re.search(r"(别|不要|不想|停|stop|don'?t|do not|no more)", t)
    if close and not _names_product(t):
        return "close_line"
    if renewal and not asks_only:
        return "cancel_renewal"
    if unsub:
        return "unsubscribe"
    if close:
        return "close_line"
    if _any("COMPLAINT_WEAK", t):
        return "complaint"  # "为什么扣了我两次钱": a grievance, even when phrased as a question
    if query or (renewal and asks_only):
        return "query"
    return "unknown"


def _names_product(t: str) -> bool:
    """A closure phrase that is really about a product (注销会员, 年卡不要了) is not a closure."""
    return bool(_categories(t) - {"plan"} or _brands(t))


def is_confirmation(text: str) -> bool:
    t = normalise(text).strip("。.!！ ")
    return t in lx.CONFIRM


def is_decline(text: str) -> bool:
    t = normalise(text).strip("。.!！ ")
    return t in lx.DECLINE


# ---- what is named ---------------------------------------------------------------------------
def _categories(t: str) -> set[str]:
    out = set()
    for cat, words in lx.CATEGORIES.items():
        for w in words:
            if (re.search(rf"{lx.ASCII_B}{re.escape(w)}s?{lx.ASCII_B}", t) if w.isascii() else w in t):
                out.add(cat)
                break
    return out


def _brands(t: str) -> set[str]:
    return {b for b, aliases in lx.BRANDS.items()
            if any((re.search(rf"{lx.ASCII_B}{re.escape(a)}", t) if a.isascii() else a in t) for a in aliases)}


def prices(t: str) -> set[int]:
    """Amounts in fen the text names ("每月扣我15块", "¥19", "十五元", "15 bucks")."""
    out = set()
    for rx in lx.PRICE_PATTERNS:
        for m in rx.finditer(t):
            raw = m.group(1)
            value = lx.cn_number(raw) if not raw[0].isdigit() else float(raw)
            if value is not None:
                out.add(int(round(value * 100)))
    return out


@lru_cache(maxsize=512)
def _target_profile(target: Target) -> tuple[frozenset, frozenset, frozenset]:
    """The categories, brands and distinctive name words of a product, from its own names."""
    text = normalise(" ".join(filter(None, [target.name_zh, target.name_en, target.partner or ""])))
    cats = set(_categories(text))
    if target.product_kind == "membership":
        cats.add("membership")
    words = set()
    for w in _jieba_words(target.name_zh):
        if len(w) >= 2 and not any(w in ws for ws in lx.CATEGORIES.values()) and not _is_generic(w):
            words.add(w)
    for w in re.findall(r"[a-z]{4,}", normalise(target.name_en)):
        if not any(w in ws for ws in lx.CATEGORIES.values()) and not _is_generic(w):
            words.add(w)
    return frozenset(cats), frozenset(_brands(text)), frozenset(words)


def _is_generic(w: str) -> bool:
    return w in {"套餐", "会员", "业务", "服务", "包月", "plan", "month", "monthly", "yearly", "service", "package"}


def _jieba_words(s: str) -> list[str]:
    import jieba
    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(s or "") if w.strip()]


def _score(t: str, said_cats: set[str], said_brands: set[str], said_prices: set[int], target: Target) -> int:
    cats, brands, words = _target_profile(target)
    score = 0
    if said_brands:
        score += 4 if said_brands & brands else -4
    hits = said_cats & cats
    score += len(hits) * 2 - len(said_cats - cats) * 3
    score += 2 * sum(1 for w in words if w in t)
    if said_prices:
        score += 3 if target.price in said_prices else -3
    return score


def _pick(scored: list[tuple[int, Target]]) -> tuple[Target | None, tuple[Target, ...]]:
    best = max((s for s, _ in scored), default=0)
    if best <= 0:
        return None, ()
    top = tuple(tg for s, tg in scored if s == best)
    return (top[0], top) if len(top) == 1 else (None, top)


def understand(text: str, targets: list[Target], current_msisdn: str | None = None) -> Understanding:
    t = augment(text)
    intent = _classify(t)
    own_lines = [tg for tg in targets if tg.is_line]
    own_numbers = {tg.msisdn for tg in own_lines}
    named = {re.sub(r"\D", "", m.group(1)) for m in _MSISDN.finditer(normalise(text))}
    foreign = tuple(sorted(n for n in named if n not in own_numbers))
    if foreign:
        return Understanding(intent, note="not_yours", foreign=foreign)
    tails = {m.group(1) for m in _TAIL.finditer(t)}
    if tails and not any(l.msisdn.endswith(tail) for l in own_lines for tail in tails):
        return Understanding(intent, note="not_yours", foreign=tuple(sorted("*******" + x for x in tails)))
    if _any("THIRD_PARTY", t) and not named:
        return Understanding(intent, note="not_yours")
    if intent not in ("unsubscribe", "cancel_renewal", "close_line"):
        return Understanding(intent, note="not_applicable")
    if not tails and not named:  # "副卡6689": a bare 4-digit group that is the tail of exactly one own line
        bare = {l.msisdn for l in own_lines for x in _BARE_TAIL.findall(t) if l.msisdn.endswith(x)}
        tails = {m[-4:] for m in bare} if len(bare) == 1 else set()
    on_lines = named or {l.msisdn for l in own_lines if any(l.msisdn.endswith(x) for x in tails)}
    if intent == "close_line":
        return _which_line(intent, t, own_lines, on_lines, current_msisdn)
    subs = [tg for tg in targets if not tg.is_line and tg.active and tg.product_kind in ENDABLE_KINDS
            and (not on_lines or tg.msisdn in on_lines)]
    scrubbed = _MSISDN.sub(" ", t)
    said_cats, said_brands, said_prices = _categories(scrubbed), _brands(scrubbed), prices(scrubbed)
    if said_cats or said_brands or said_prices or any(w in scrubbed for tg in subs for w in _target_profile(tg)[2]):
        target, top = _pick([(_score(scrubbed, said_cats, said_brands, said_prices, tg), tg) for tg in subs])
        if target is not None:
            return Understanding(intent, target=target, candidates=top)
        if top:
            return Understanding(intent, candidates=top, note="ambiguous")
        return Understanding(intent, candidates=tuple(subs), note="no_match")
    pool = [tg for tg in subs if tg.auto_renew] if intent == "cancel_renewal" else subs
    if len(pool) == 1:
        return Understanding(intent, target=pool[0], candidates=(pool[0],))
    return Understanding(intent, candidates=tuple(pool), note="nothing_named" if pool else "no_match")


def _which_line(intent: str, t: str, lines: list[Target], on_lines: set[str], current: str | None) -> Understanding:
    usable = [l for l in lines if l.active] or lines
    if on_lines:
        chosen = [l for l in lines if l.msisdn in on_lines]
    elif _any("SECONDARY_WORDS", t):
        chosen = [l for l in usable if l.is_secondary]
    elif _any("KEEP_NUMBER_WORDS", t):
        chosen = [l for l in usable if re.search("保号|keep", normalise(l.plan_name))]
    elif _any("PRIMARY_WORDS", t):
        chosen = [l for l in usable if not l.is_secondary]
    elif _any("THIS_NUMBER", t) and current in {l.msisdn for l in usable}:
        chosen = [l for l in usable if l.msisdn == current]
    else:
        chosen = usable
    if len(chosen) == 1:
        return Understanding(intent, target=chosen[0], candidates=(chosen[0],))
    if not chosen:
        return Understanding(intent, candidates=tuple(usable), note="no_match")
    return Understanding(intent, candidates=tuple(chosen), note="ambiguous")
