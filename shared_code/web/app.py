"""The ASGI application: FastAPI with server-rendered Jinja2 pages and the JSON API.

`create_app` is the web's composition: settings, the helpdesk factory, middleware, error
pages and every router of ROUTERS. It is built once per process (uvicorn or the Functions
host through lazy.py).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ..domain.model import AlreadyExists, ValidationError
from .api_common import document_errors
from .deps import BadCsrf, Forbidden, NotSignedIn, render, sign_in_url, wants_json
from .security import SecurityHeaders
from .settings import WebSettings

API_VERSION = "1"
# Every router, in the order its paths are matched; each module has `router`.
ROUTERS = (
    "pages_auth", "health", "graph_webhook",
    "pages_tickets", "attachments", "api_tickets",
    "pages_emails", "api_accounts",
    "pages_templates", "pages_logs", "pages_directory",
    "api_templates", "api_logs", "api_directory",
    "pages_reconcile", "api_reconcile",
    "pages_doctor", "api_doctor",
    "pages_filters", "api_filters",
)


def _error(request: Request, status: int, message: str, field: str | None = None):
    if wants_json(request):
        body = {"error": message}
        if field:
            body["field"] = field
        return JSONResponse(body, status_code=status)
    return render(request, "error.html", status_code=status, status=status, message=message)


def _field_of(error: dict) -> str:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header", "form")]
    return ".".join(location)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _exc: NotSignedIn):
        if wants_json(request):
            return JSONResponse({"error": "sign-in required"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return RedirectResponse(sign_in_url(request), status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return _error(request, 403, str(exc))

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, _exc: BadCsrf):
        return _error(request, 403, "missing or wrong CSRF token: reload the page and try again",
                      field="X-CSRF-Token" if wants_json(request) else None)

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError):
        status = 409 if isinstance(exc, AlreadyExists) else 422  # a duplicate key: Conflict
        return _error(request, status, str(exc), getattr(exc, "field", None))

    @app.exception_handler(LookupError)
    async def not_found(request: Request, exc: LookupError):
        return _error(request, 404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        """The framework's own refusals (an unparsable body, 404, 405) in the app's error shape."""
        response = _error(request, exc.status_code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = _field_of(first)
        message = f"{field}: {first.get('msg', 'invalid value')}" if field else first.get("msg", "invalid request")
        return _error(request, 422, message, field or None)


def create_app(web_settings: WebSettings | None = None, desk_factory: Callable | None = None) -> FastAPI:
    """The web app. `desk_factory()` gives a Helpdesk per request (default: from the environment)."""
    from ..config import Settings

    if desk_factory is None:
        from ..services.helpdesk import Helpdesk

        desk_factory = Helpdesk.from_env
    settings = web_settings or WebSettings.from_env()
    app = FastAPI(title="deskmail", version=f"{API_VERSION}.0", docs_url=None, redoc_url=None,
                  openapi_url=f"/api/v{API_VERSION}/openapi.json",
                  description="The deskmail helpdesk API: tickets, accounts, templates, logs.")
    app.state.web_settings = settings
    app.state.desk_factory = desk_factory
    app.add_middleware(SecurityHeaders, authority_host=Settings.from_env().authority_host)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static")
    for name in ROUTERS:
        app.include_router(importlib.import_module(f"{__package__}.{name}").router)
    document_errors(app)
    return app
