"""What every route depends on: the helpdesk, the signed-in principal and its role, the CSRF
check, and `render` for pages. Routes stay thin: they call services with what these give."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from fastapi.templating import Jinja2Templates

from .auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Principal, csrf_ok, csrf_token, principal_from
from .settings import AuthMode, WebSettings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotSignedIn(Exception):
    """No principal: 401 for the API and files, a redirect to sign-in for pages."""


class Forbidden(Exception):
    """Signed in without the role the route needs: a 403 page or JSON error."""

    def __init__(self, message: str = "you do not have access to this page") -> None:
        super().__init__(message)


class BadCsrf(Exception):
    """A state-changing browser request without the session's CSRF token."""


def web_settings(request: Request) -> WebSettings:
    return request.app.state.web_settings


def get_desk(request: Request):
    """A `Helpdesk` for this request (cheap: adapters connect on first use)."""
    return request.app.state.desk_factory()


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.startswith("/attachments/")


def current_principal(request: Request) -> Principal | None:
    if "principal" not in request.state._state:
        request.state.principal = principal_from(web_settings(request), request.headers, request.cookies)
    return request.state.principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method not in UNSAFE_METHODS or not principal.needs_csrf:
        return
    token = request.headers.get(CSRF_HEADER)
    if token is None and not request.url.path.startswith("/api/"):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            token = (await request.form()).get(CSRF_FIELD)
    if not csrf_ok(web_settings(request), principal, token):
        raise BadCsrf()


# How a caller signs in, declared so the OpenAPI document shows it (principal_from does the
# checking): a session cookie (dev sign-in), or Easy Auth, which turns an Entra ID bearer token or
# its own sign-in into X-MS-CLIENT-PRINCIPAL. Browser sessions also send X-CSRF-Token on writes.
SESSION = APIKeyCookie(name=SESSION_COOKIE, scheme_name="session", auto_error=False,
                       description="the session cookie of the development sign-in (DESKMAIL_AUTH=dev); "
                                   "send X-CSRF-Token (GET /api/v1/session) with every write")
BEARER = HTTPBearer(scheme_name="entra", auto_error=False,
                    description="in Azure: a Microsoft Entra ID access token with the app role "
                                "deskmail.admin or deskmail.staff (App Service Authentication checks it)")


async def signed_in(request: Request, _session: str | None = Depends(SESSION),
                    _bearer=Depends(BEARER)) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise NotSignedIn()
    await _check_csrf(request, principal)
    return principal


async def staff(principal: Principal = Depends(signed_in)) -> Principal:
    if not principal.is_staff:
        raise Forbidden("your account has neither the staff nor the admin role of deskmail")
    return principal


async def admin(principal: Principal = Depends(signed_in)) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this page is for deskmail admins" if principal.is_staff else
                        "your account has neither the staff nor the admin role of deskmail")
    return principal


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if web_settings(request).auth is AuthMode.EASY_AUTH:
        return f"/.auth/login/aad?post_login_redirect_uri={quote(target, safe='')}"
    return f"/auth/dev-login?next={quote(target, safe='')}"


def render(request: Request, template: str, status_code: int = 200, **context):
    """A page, with the principal, its CSRF token and the navigation the layout needs."""
    principal = current_principal(request)
    settings = web_settings(request)
    context.update(request=request, principal=principal,
                   csrf=csrf_token(settings, principal) if principal else "",
                   csrf_field=CSRF_FIELD, auth_mode=settings.auth.value)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
