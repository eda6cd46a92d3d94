"""Signing in and out, the start page, and `GET /api/v1/session` (who am I, my CSRF token).

The development sign-in (`DESKMAIL_AUTH=dev`) is a form that takes an address listed in
DESKMAIL_DEV_USERS; it has no password and no CSRF token, and the app refuses to start with it
in Azure (settings.py). With Easy Auth the platform's `/.auth/login/aad` signs people in.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from ..domain.model import ValidationError, normalize_address
from .auth import SESSION_COOKIE, SESSION_SECONDS, Principal, csrf_token, session_cookie
from .deps import current_principal, render, signed_in, web_settings
from .settings import AuthMode

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or a scheme, so sign-in cannot redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/tickets"
    return target


@router.get("/", include_in_schema=False)
def start(request: Request):
    return RedirectResponse("/tickets" if current_principal(request) else "/auth/dev-login"
                            if web_settings(request).auth is AuthMode.DEV else "/tickets", status_code=303)


@router.get("/auth/dev-login", include_in_schema=False)
def dev_login_form(request: Request, next: str | None = None):
    settings = web_settings(request)
    if settings.auth is not AuthMode.DEV:
        return render(request, "error.html", status_code=404, status=404,
                      message="the development sign-in is off (DESKMAIL_AUTH is not dev)")
    return render(request, "dev_login.html", next=_safe_next(next), users=sorted(settings.dev_users.items()),
                  error="")


@router.post("/auth/dev-login", include_in_schema=False)
def dev_login(request: Request, email: str = Form(""), next: str = Form("/tickets")):
    settings = web_settings(request)
    if settings.auth is not AuthMode.DEV:
        return render(request, "error.html", status_code=404, status=404,
                      message="the development sign-in is off (DESKMAIL_AUTH is not dev)")
    try:
        address = normalize_address(email)
    except ValidationError:
        address = ""
    if address not in settings.dev_users:
        return render(request, "dev_login.html", status_code=401, next=_safe_next(next),
                      users=sorted(settings.dev_users.items()),
                      error=f"{email!r} is not a development user (DESKMAIL_DEV_USERS)")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie(settings, address), max_age=SESSION_SECONDS,
                        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")
    return response


@router.post("/auth/sign-out", include_in_schema=False)
def sign_out(request: Request, _principal: Principal = Depends(signed_in)):
    if web_settings(request).auth is AuthMode.EASY_AUTH:
        return RedirectResponse("/.auth/logout", status_code=303)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class SessionInfo(BaseModel):
    email: str
    name: str
    role: str | None
    csrf_token: str


@router.get("/api/v1/session", response_model=SessionInfo, tags=["session"])
def session(request: Request, principal: Principal = Depends(signed_in)) -> SessionInfo:
    """The signed-in user, its role (`admin`, `staff` or null) and the CSRF token that browser
    sessions send as `X-CSRF-Token` with every POST, PUT, PATCH and DELETE."""
    return SessionInfo(email=principal.email, name=principal.name,
                       role=principal.role.value if principal.role else None,
                       csrf_token=csrf_token(web_settings(request), principal))
