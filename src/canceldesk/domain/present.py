"""Stored facts keep both languages' words (`label_zh`/`label_en`, `name_zh`/`name_en`); what a
reader sees is chosen when it is shown, in the reader's language — never the creator's."""
from __future__ import annotations

_PAIRS = (("label", "label_zh", "label_en"), ("name", "name_zh", "name_en"),
          ("message", "message_zh", "message_en"), ("resolution", "resolution_zh", "resolution_en"))


def localize(data, lang: str):
    """A copy of `data` with every `label`/`name` set from its zh/en variants for `lang`."""
    en = (lang or "zh").startswith("en")
    if isinstance(data, list):
        return [localize(v, lang) for v in data]
    if not isinstance(data, dict):
        return data
    out = {k: localize(v, lang) for k, v in data.items()}
    for key, zh, en_key in _PAIRS:
        if zh in out or en_key in out:
            out[key] = out.get(en_key if en else zh) or out.get(key)
    return out
