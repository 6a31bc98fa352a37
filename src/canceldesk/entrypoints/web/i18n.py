"""Translations for the pages: Babel/gettext catalogues under src/canceldesk/locale/.

The .po files are the source of truth; they are compiled to .mo in memory when first used, so a
fresh clone needs no build step and a stale .mo can never shadow an edited .po.
Regenerate the template after changing strings: `make i18n` (extract + update the catalogues).
"""
from __future__ import annotations

import gettext
import io
from functools import lru_cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGS = {"zh": "zh_CN", "en": "en"}
DEFAULT = "zh"


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    locale = LANGS.get(lang, LANGS[DEFAULT])
    po = resources.files("canceldesk").joinpath("locale", locale, "LC_MESSAGES", "messages.po")
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain="messages")


def gettext_for(lang: str):
    return translations(lang).gettext


def preferred_lang(header: str | None) -> str | None:
    """The first language of an Accept-Language header that we speak ("en-GB,en;q=0.8" → "en")."""
    ranked = []
    for i, part in enumerate((header or "")[:200].split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        code = tag.strip().lower()[:2]
        if code in LANGS and weight > 0:
            ranked.append((-weight, i, code))
    return min(ranked)[2] if ranked else None
