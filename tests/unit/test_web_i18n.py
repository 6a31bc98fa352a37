"""Every string of the pages goes through gettext and has its Chinese (and English) translation."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "canceldesk" / "entrypoints" / "web"
LOCALE = ROOT / "src" / "canceldesk" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}
    keywords = {"_": None, "N_": None, "gettext": None}
    return {msg[2] for msg in extract_from_dir(str(WEB), method_map, options, keywords=keywords) if msg[2]}


def _catalogue(locale: str) -> dict[str, str]:
    with open(LOCALE / locale / "LC_MESSAGES" / "messages.po", "rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}


def test_every_page_string_is_in_the_catalogues_and_translated_to_chinese():
    strings = _extracted()
    assert len(strings) > 300
    zh, en = _catalogue("zh_CN"), _catalogue("en")
    missing = sorted(s for s in strings if not zh.get(s))
    assert not missing, f"zh_CN: untranslated (run `make i18n`, then translate): {missing[:10]}"
    assert not sorted(strings - set(en)), "en: run `make i18n` (English falls back to the source text)"


def test_translations_keep_their_placeholders():
    for msgid, msgstr in _catalogue("zh_CN").items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(msgstr)), msgid
        assert re.search(r"[\u4e00-\u9fff]", msgstr) or not re.search(r"[a-z]{4,}", msgid) or msgstr == msgid \
            or msgid in ("CSV",), f"not translated to Chinese: {msgid!r} → {msgstr!r}"


def test_templates_have_no_bare_text_outside_gettext():
    """Visible text in a template is either inside {{ _(…) }} or comes from data: no literal words."""
    offenders = []
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{% block area %\}\w+\{% endblock %\}", " ", text)           # a CSS class name
        text = re.sub(r"\{% macro described.*?\{% endmacro %\}", " ", text, flags=re.S)  # attributes only
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", text, flags=re.S)   # Jinja
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)                                       # tags and attributes
        words = re.findall(r"[A-Za-z]{3,}|[\u4e00-\u9fff]+", text)
        words = [w for w in words if w not in {"canceldesk", "English", "中文"}]   # each language named in itself
        if words:
            offenders.append((path.name, words[:5]))
    assert not offenders, offenders
