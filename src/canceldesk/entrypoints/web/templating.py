"""The pages' templates: one Jinja environment per language and the filters they format with (money, local
times, who acted, statuses and reasons in words). Presentation only: the rules live in the domain."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from canceldesk.domain import localtime
from canceldesk.domain.identifiers import mask_msisdn
from canceldesk.domain.money import format_money
from canceldesk.domain.present import localize
from canceldesk.service_layer.principal import STAFF_ROLES, may

from . import labels
from .i18n import DEFAULT, LANGS, N_, translations

TEMPLATES = Path(__file__).parent / "templates"


# ---- formatting (presentation only) -----------------------------------------------------------------
def money(amount: int | None, currency: str = "CNY", lang: str = DEFAULT) -> str:
    return "—" if amount is None else format_money(int(amount), currency, lang)


def _as_datetime(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@pass_context
def local_time(ctx, value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Pages show times through the one formatter (domain/localtime.py), in the pack's zone."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 10:
        return value  # already a calendar date
    dt = _as_datetime(value)
    if dt is None:
        return "—" if not value else str(value)
    return localtime.shown(dt, ctx.get("tz", "Asia/Shanghai"), with_time="%H" in fmt)


@pass_context
def local_day(ctx, value) -> str:
    return local_time(ctx, value, "%Y-%m-%d")


@pass_context
def money_filter(ctx, amount, currency: str | None = None) -> str:
    pack = ctx.get("pack")
    return money(amount, currency or (pack.currency if pack else "CNY"), ctx.get("lang", DEFAULT))


ACTOR_ROLES = {"subscriber": N_("You"), "system": N_("System"), "agent": N_("Counter staff"),
               "reviewer": N_("Reviewer"), "admin": N_("Back office"), "enterprise_admin": N_("Company administrator")}


STAFF_ACTOR_ROLES = {**ACTOR_ROLES, "subscriber": N_("The customer")}


def _staff_view(ctx) -> bool:
    principal = ctx.get("principal")
    return principal is not None and not principal.is_subscriber and may(principal, "staff_pages")


@pass_context
def actor_label(ctx, actor: str) -> str:
    """Who acted, in words, never an internal id (subscriber:C001, agent:x@store, system). Staff
    also read which colleague and store it was, and "You" for their own steps."""
    role, _, rest = str(actor or "").partition(":")
    t = translations(ctx.get("lang", DEFAULT))
    if not _staff_view(ctx):
        return t.gettext(ACTOR_ROLES.get(role, N_("System")))
    word = t.gettext(STAFF_ACTOR_ROLES.get(role, N_("System")))
    if role not in STAFF_ROLES or not rest:
        return word
    user, _, store = rest.partition("@")
    if actor == ctx["principal"].actor:
        return (t.gettext(N_("You (%(user)s, store %(store)s)")) if store else t.gettext(N_("You (%(user)s)"))) \
            % {"user": user, "store": store}
    return (t.gettext(N_("%(role)s %(user)s (store %(store)s)")) if store else t.gettext(N_("%(role)s %(user)s"))) \
        % {"role": word, "user": user, "store": store}


@pass_context
def status_label(ctx, status: str) -> str:
    """A request's status in words for whoever reads it: the customer's confirmation is "yours" only to them."""
    table = labels.STAFF_STATUSES if _staff_view(ctx) else labels.STATUSES
    return translations(ctx.get("lang", DEFAULT)).gettext(table.get(status, status))


@pass_context
def reason_label(ctx, reason: str | None) -> str:
    """A timeline reason in words: known phrases and codes translated, a person's own words kept."""
    if not reason:
        return ""
    t = translations(ctx.get("lang", DEFAULT))
    for table in (labels.TIMELINE_REASONS, labels.REASONS):
        if reason in table:
            return t.gettext(table[reason])
    codes = reason.split(",")
    if all(code in labels.REJECT_CODES for code in codes):
        return "; ".join(t.gettext(labels.REJECT_CODES[code]) for code in codes)
    if reason.startswith("refund ") and "review threshold" in reason:
        return t.gettext(N_("Large refund: a person checks it first"))
    if reason.startswith("gave up") or ": " in reason and reason.split(": ", 1)[0] in labels.STEPS:
        return t.gettext(N_("A step could not be completed; staff are on it"))
    return reason


@pass_context
def localized(ctx, data):
    """Stored facts (impact, findings) in the page's language: domain/present.py."""
    return localize(data, ctx.get("lang", DEFAULT))


@pass_context
def age(ctx, value) -> str:
    dt = _as_datetime(value)
    now = ctx.get("now")
    if dt is None or now is None:
        return "—"
    minutes = int((now - dt).total_seconds() // 60)
    t = translations(ctx.get("lang", DEFAULT))
    if minutes < 60:
        return t.gettext("%(n)s min") % {"n": max(minutes, 0)}
    if minutes < 48 * 60:
        return t.gettext("%(n)s h") % {"n": minutes // 60}
    return t.gettext("%(n)s days") % {"n": minutes // (24 * 60)}


CJK_TEXT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _env(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "svg"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.filters.update(money=money_filter, loc=localized, actor=actor_label, status=status_label, why=reason_label, local=local_time, day=local_day, age=age, mask=mask_msisdn,
                       urlq=lambda s: quote(str(s), safe=""))
    env.tests["cjk"] = lambda s: bool(CJK_TEXT.search(str(s or "")))
    env.globals.update(L=labels, lang_names={"zh": "中文", "en": "English"}, may=may)
    return env


ENVS = {lang: _env(lang) for lang in LANGS}
