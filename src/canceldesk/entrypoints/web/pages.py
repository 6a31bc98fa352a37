"""What every page shares: templates per language, the session cookie, CSRF, who is logged in,
and one error page. Pages parse input and call the service layer; nothing here decides a rule."""
from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Callable
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from canceldesk.domain.transitions import IllegalTransition
from canceldesk.service_layer import auth
from canceldesk.service_layer.errors import Forbidden, NotFound, ServiceError, Unauthorized
from canceldesk.service_layer.principal import MAY, Principal

from . import labels
from .i18n import DEFAULT, LANGS, N_, preferred_lang, translations
from .templating import ENVS, money  # noqa: F401  (money: the pages' one money formatter)

SESSION_COOKIE = "cd_session"
ANON_COOKIE = "cd_anon"
LANG_COOKIE = "cd_lang"
KIOSK_COOKIE = "cd_kiosk"   # a session started on a store's self-service terminal (web/kiosk.py)
KIOSK_IDLE_SECONDS = 60     # a kiosk logs out and clears the screen after this long without a touch

# Which roles may use which area (the one roles table, service_layer/principal.MAY), and where each area's login is.
AREAS = {
    "portal": (MAY["own_lines"], "/"),
    "counter": (MAY["staff_pages"], "/staff/login"),
    "enterprise": (MAY["enterprise"], "/enterprise/login"),
    "dashboard": (MAY["admin"], "/staff/login"),
}
HOME_OF_ROLE = {"subscriber": "/", "agent": "/counter", "reviewer": "/counter/queues", "admin": "/dashboard",
                "enterprise_admin": "/enterprise"}


class LoginRequired(Exception):
    def __init__(self, area: str, next_url: str):
        self.area, self.next_url = area, next_url


class CsrfRejected(Exception):
    pass


# ---- request context --------------------------------------------------------------------------------------
def container(request: Request):
    return request.app.state.container


def lang_of(request: Request) -> str:
    """The reader's language: the choice they made (cookie), else ?lang=, else what their browser
    asks for (Accept-Language), else the pack's."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGS:
        return chosen
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    browser = preferred_lang(request.headers.get("accept-language"))
    if browser:
        return browser
    return "en" if container(request).pack.locale.startswith("en") else DEFAULT



def tr(request: Request) -> Callable[..., str]:
    """gettext for this request's language, with %(name)s formatting."""
    t = translations(lang_of(request))

    def _(message: str, **params) -> str:
        text = t.gettext(message)
        return text % params if params else text
    return _


def _csrf_basis(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE) or \
        getattr(request.state, "anon_seed", None)


def csrf_token(request: Request) -> str:
    """Per-session token: an HMAC of the session token (or, before login, of an anonymous seed)."""
    basis = _csrf_basis(request)
    if basis is None:
        request.state.anon_seed = basis = secrets.token_urlsafe(24)
    return container(request).keyring.sign("csrf:" + basis, 32)


def csrf_ok(request: Request, given: object) -> bool:
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if not basis or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(container(request).keyring.sign("csrf:" + basis, 32), given)


async def checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token was checked; any POST without a valid one is refused."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise CsrfRejected()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def cookie_flags(request: Request) -> dict:
    """HttpOnly, SameSite=Lax, Secure over https (and always outside demo/test, see Settings)."""
    secure = request.url.scheme == "https" or container(request).settings.session_cookie_secure
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def set_session(response: Response, request: Request, login: dict) -> None:
    response.set_cookie(SESSION_COOKIE, login["token"], max_age=int(login.get("expires_in", 3600)),
                        **cookie_flags(request))


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, **cookie_flags(request))


def client_of(request: Request) -> str:
    """The caller's address, for the login rate limits."""
    return request.client.host if request.client else "unknown"


def code_login(request: Request, msisdn: str, otp: str, code_page: Callable[..., Response],
               as_role: str | None = None) -> tuple[dict | None, Response | None]:
    """Exchange an SMS code for a login (portal, enterprise and kiosk alike): (login, None), or
    (None, the code page again with the error beside the field)."""
    try:
        return auth.exchange_otp(container(request), msisdn, otp[:12], client=client_of(request), as_role=as_role), None
    except ServiceError as exc:
        return None, code_page(status=422, errors=field_errors(request, exc, "otp"))


def start_session(request: Request, login: dict, target: str) -> Response:
    response = redirect(target)
    set_session(response, request, login)
    return response


def end_session(request: Request, target: str) -> Response:
    """Log out (the session ends on the server too) and go to `target`."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(container(request), token)
    response = redirect(target)
    clear_session(response, request)
    return response


def set_lang(response: Response, request: Request, lang: str) -> None:
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, **{**cookie_flags(request), "httponly": False})


def current_principal(request: Request) -> Principal | None:
    if hasattr(request.state, "web_principal"):
        return request.state.web_principal
    token = request.cookies.get(SESSION_COOKIE)
    principal = None
    if token:
        try:
            principal = auth.authenticate(container(request), token)
        except Unauthorized:
            principal = None
    if principal is not None and principal.is_subscriber and is_kiosk(request):
        from dataclasses import replace
        principal = replace(principal, via="kiosk")  # recorded on every transition it causes
    request.state.web_principal = principal
    return principal


def kiosk_mark(request: Request, token: str) -> str:
    return container(request).keyring.sign("kiosk:" + token, 32)


def is_kiosk(request: Request) -> bool:
    """The session was opened at a kiosk: its mark is bound to the session token (not forgeable)."""
    token, mark = request.cookies.get(SESSION_COOKIE), request.cookies.get(KIOSK_COOKIE)
    return bool(token and mark and hmac.compare_digest(kiosk_mark(request, token), mark))


def _login_gate(area: str):
    roles, _login = AREAS[area]

    def gate(request: Request) -> Principal:
        p = current_principal(request)
        if p is None or p.role not in roles:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(area, nxt)
        return p
    return gate


Subscriber = Annotated[Principal, Depends(_login_gate("portal"))]
Staff = Annotated[Principal, Depends(_login_gate("counter"))]
EnterpriseAdmin = Annotated[Principal, Depends(_login_gate("enterprise"))]
Admin = Annotated[Principal, Depends(_login_gate("dashboard"))]


def safe_next(value: object, default: str = "/") -> str:
    """Only a path on this site (never //host or a scheme): no open redirects."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value \
            and len(value) < 500:
        return value
    return default


# ---- responses --------------------------------------------------------------------------------------
def render(request: Request, template: str, status: int = 200, **ctx) -> HTMLResponse:
    c = container(request)
    lang = lang_of(request)
    token = csrf_token(request)
    principal = current_principal(request)
    base = {"request": request, "lang": lang, "principal": principal, "csrf": token, "pack": c.pack,
            "tz": c.pack.timezone, "is_dev": c.settings.is_dev, "now": c.now(), "path": request.url.path,
            "home": HOME_OF_ROLE.get(principal.role, "/") if principal else "/",
            "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    # A page answered to a POST cannot be fetched again: the language switch then returns home.
    base["lang_next"] = base["current_url"] if request.method == "GET" else base["home"]
    base["kiosk"] = bool(principal and principal.via == "kiosk") or request.url.path.startswith("/kiosk")
    base["kiosk_idle_seconds"] = KIOSK_IDLE_SECONDS
    html = ENVS[lang].get_template(template).render({**base, **ctx})
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    seed = getattr(request.state, "anon_seed", None)
    if seed and not request.cookies.get(ANON_COOKIE):
        response.set_cookie(ANON_COOKIE, seed, max_age=24 * 3600, **cookie_flags(request))
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def error_page(request: Request, status: int, title: str, message: str = "") -> HTMLResponse:
    return render(request, "error.html", status=status, title=title, message=message)


class PageRoute(APIRoute):
    """A page: a refused login, CSRF or permission becomes a page (or a redirect), never JSON."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            _ = tr(request)
            try:
                return await handler(request)
            except LoginRequired as exc:
                login = AREAS[exc.area][1]
                return redirect(f"{login}?next={quote(exc.next_url, safe='')}")
            except CsrfRejected:
                return error_page(request, 403, _("This form has expired"),
                                  _("Go back, reload the page and submit it again."))
            except NotFound:
                return error_page(request, 404, _("Not found"), _("There is nothing here, or it is not yours to see."))
            except (Forbidden, Unauthorized) as exc:
                return error_page(request, 403, _("Not allowed"), exc.message)
            except ServiceError as exc:
                return error_page(request, exc.status, _("That did not work"), exc.message)
            except IllegalTransition as exc:
                return error_page(request, 409, _("That did not work"), exc.message)
            except RequestValidationError:
                return error_page(request, 400, _("That did not work"), _("Some of the input was missing or malformed."))
        return page_handler


# ---- what the forms that end something share (portal, close wizard, counter) -------------------------------
def nonce() -> str:
    """A fresh key per rendered form: a double click or a resubmission never creates two requests."""
    return secrets.token_urlsafe(12)


def form_key(form: FormData, channel: str) -> str:
    """The idempotency key of a posted form: its nonce, under the channel's prefix."""
    return f"{channel}:{str(form.get('nonce') or nonce())[:40]}"


def acked_of(form: FormData) -> tuple[str, ...]:
    return tuple(str(w)[:40] for w in form.getlist("ack")[:20])


def open_request(exc: ServiceError) -> str | None:
    """The tracking number of the request already open for the same thing (go there, not an error)."""
    if exc.code == "OPEN_REQUEST" and isinstance(exc.details, dict) and exc.details.get("tracking_no"):
        return str(exc.details["tracking_no"])
    return None


def submit_errors(request: Request, exc: ServiceError) -> dict[str, str]:
    """A refused submission as {field: message}: each warning left unticked beside its box, else the form's."""
    if exc.code == "WARNINGS_NOT_ACKNOWLEDGED":
        return {"ack:" + code: error_text(request, exc) for code in (exc.details or {}).get("missing", [])}
    return {"form": error_text(request, exc)}


def error_text(request: Request, exc: ServiceError) -> str:
    """A service error in the page's language (by its code or field), else its own message."""
    _ = tr(request)
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "STEP_UP_FAILED" and isinstance(details.get("tries_left"), int):
        left = details["tries_left"]
        return (_("That does not match our records. %(n)s tries left.", n=left) if left
                else _("That does not match our records. Checks are paused for a while; the other way stays open."))
    if exc.code in labels.ERRORS:
        return _(labels.ERRORS[exc.code])
    if str(details.get("field")) in labels.FIELD_ERRORS:
        return _(labels.FIELD_ERRORS[str(details["field"])])
    return exc.message


def field_errors(request: Request, exc: ServiceError, default_field: str) -> dict[str, str]:
    """A service error as {field: message}, so the page can show it next to the field."""
    details = exc.details if isinstance(exc.details, dict) else {}
    field = str(details.get("field") or default_field)
    if field.endswith(".number") or field.endswith(".type"):
        field = field.rsplit(".", 1)[1] == "type" and "doc_type" or "doc_number"
    return {field: error_text(request, exc)}


__all__ = ["N_", "PageRoute", "render", "redirect", "error_page", "tr", "CheckedForm", "Subscriber", "Staff",
           "EnterpriseAdmin", "Admin", "set_session", "clear_session", "set_lang", "safe_next", "money",
           "current_principal", "field_errors", "error_text", "HOME_OF_ROLE", "lang_of", "container", "client_of",
           "code_login", "start_session", "end_session", "nonce", "form_key", "acked_of", "open_request", "submit_errors"]
