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
