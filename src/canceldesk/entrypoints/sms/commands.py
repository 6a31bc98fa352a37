"""The SMS command parser: one message's text → one command. Pure, no I/O.

Case-, space- and width-insensitive (全角/半角): `１，３`, `1、3`, `1 3`, `y`, `ｃｘｘｚ＃…` all parse.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_SERIALS = 20
_SERIALS = re.compile(r"^\d{1,3}(?:[\s,、;/.\u3000+]+\d{1,3})*$")
_SPLIT = re.compile(r"[\s,、;/.\u3000+]+")
_CANCEL = re.compile(r"^(取消|退订续费|QX|CANCEL)\s*([0-9A-Z][0-9A-Z_-]{0,63})$")
_ELIGIBILITY = re.compile(r"^CXXZ\s*#(.+?)#(.+)$", re.IGNORECASE)
_TRACKING = re.compile(r"^CD\d{8}[0-9A-F]{8}$")
_CJK = re.compile(r"[\u4e00-\u9fff]")

CONFIRM_ZH = {"是", "确认", "确定", "好", "好的"}
CONFIRM_EN = {"YES", "CONFIRM", "OK"}
DECLINE_ZH = {"否", "不", "算了", "不用了"}
DECLINE_EN = {"NO"}
HELP_ZH = {"帮助", "菜单", "?"}
HELP_EN = {"HELP", "MENU", "INFO"}


@dataclass(frozen=True)
class Command:
    """name: list | serials | confirm | decline | cancel | eligibility | follow | language | help."""
    name: str
    serials: tuple[int, ...] = ()
    target: str = ""              # cancel: a serial ("2") or a product code ("MEM-VIDEO"); follow: tracking no
    person_name: str = ""         # eligibility
    id_number: str = ""           # eligibility
    lang: str | None = None       # the language the text was written in, when it tells (zh / en)


def normalize(text: str) -> str:
    """NFKC folds full-width letters, digits and ＃，；？ to half-width; then trim and upper-case."""
    folded = unicodedata.normalize("NFKC", text or "").replace("\u3000", " ")
    return " ".join(folded.split()).upper()


def language_of(text: str) -> str | None:
    if _CJK.search(text or ""):
        return "zh"
    letters = re.sub(r"[^A-Za-z]", "", unicodedata.normalize("NFKC", text or ""))
    if len(letters) >= 2:
        return "en"
    return None


def parse(text: str) -> Command:
    t = normalize(text)
    compact = t.replace(" ", "")
    if compact == "0000":
        return Command("list")
    if compact == "Y":
        return Command("confirm")
    if compact in CONFIRM_ZH or compact in CONFIRM_EN:
        return Command("confirm", lang="zh" if compact in CONFIRM_ZH else "en")
    if compact == "N":
        return Command("decline")
    if compact in DECLINE_ZH or compact in DECLINE_EN:
        return Command("decline", lang="zh" if compact in DECLINE_ZH else "en")
    if compact in ("EN", "ENGLISH"):
        return Command("language", lang="en")
    if compact in ("中文", "ZH", "CHINESE"):
        return Command("language", lang="zh")
    if _SERIALS.match(t):
        numbers: list[int] = []
        for part in _SPLIT.split(t):
            if part and int(part) not in numbers:
                numbers.append(int(part))
        if len(numbers) <= MAX_SERIALS:
            return Command("serials", serials=tuple(numbers))
    m = _CANCEL.match(t)
    if m:
        word = m.group(1)
        return Command("cancel", target=m.group(2), lang="en" if word == "CANCEL" else ("zh" if _CJK.search(word) else None))
    m = _ELIGIBILITY.match(unicodedata.normalize("NFKC", text or "").strip())
    if m:
        return Command("eligibility", person_name=" ".join(m.group(1).split()),
                       id_number=m.group(2).replace(" ", "").upper())
    if _TRACKING.match(compact):
        return Command("follow", target=compact)
    if compact in HELP_EN or compact in HELP_ZH:
        return Command("help", lang="en" if compact in HELP_EN else "zh")
    return Command("help", target="unknown", lang=language_of(text))
