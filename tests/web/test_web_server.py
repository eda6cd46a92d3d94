"""The two ways the web app is served, for real: the Functions host's (the registered
`http_app_func` of function_app, called with a `func.HttpRequest`, lifespan start-up included,
as Azure calls it; Core Tools cannot run here) and `python -m shared_code.web` under uvicorn."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.helpers import SUPPORT

from .conftest import ADMIN

ROOT = Path(__file__).resolve().parents[2]


def _in_own_loop(coroutine_function):
    """Run it in a new event loop on its own thread, as the worker's loop would: the main thread
    may already run a loop (Playwright's sync API keeps one for the browser tests' session)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine_function())
        except BaseException as error:  # re-raised in the test's thread
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _host_function():
    """A fresh function_app, indexed as the host does: the app and its web function."""
    sys.modules.pop("function_app", None)
    import function_app

    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    return function_app.app, functions["http_app_func"].get_user_function()


def _request(method: str, path: str, body: bytes = b"", headers: dict | None = None):
    import azure.functions as func

    return func.HttpRequest(method=method, url=f"https://deskmail.example.com{path}",
                            headers=headers or {}, body=body)


def _calls(*requests):
    """Each request through a freshly imported function_app, in one event loop (the worker's)."""
    app, function = _host_function()

    async def run():
        answers = [await function(request, None) for request in requests]
        await app.middleware.notify_shutdown()  # as the worker does when it stops
        app.startup_task_done = False
        return answers

    return _in_own_loop(run)


def test_the_host_serves_health_and_the_dev_sign_in_through_the_asgi_function(desk):
    health, form, signed_in = _calls(
        _request("GET", "/health"),
        _request("GET", "/auth/dev-login?next=/tickets"),
        _request("POST", "/auth/dev-login", body=f"email={ADMIN}&next=/admin/emails".encode(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"}))

    assert health.status_code == 200
    assert health.mimetype == "application/json"
    body = json.loads(health.get_body())
    assert body["healthy"] is True and len(body["accounts"]) == 1
    assert SUPPORT not in health.get_body().decode()
    assert "script-src 'self'" in health.headers["Content-Security-Policy"]

    assert form.status_code == 200
    assert b'name="email"' in form.get_body()
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/admin/emails"
    cookie = signed_in.headers["set-cookie"].lower()
    assert cookie.startswith("deskmail_session=") and "httponly" in cookie


def test_the_host_path_keeps_the_session_and_the_api_rules(desk):
    [login] = _calls(_request("POST", "/auth/dev-login", body=f"email={ADMIN}".encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"}))
    cookie = login.headers["set-cookie"].split(";")[0]

    session, anonymous, no_csrf = _calls(
        _request("GET", "/api/v1/session", headers={"Cookie": cookie}),
        _request("GET", "/api/v1/session"),
        _request("POST", "/auth/sign-out", headers={"Cookie": cookie}))

    assert session.status_code == 200 and json.loads(session.get_body())["role"] == "admin"
    assert anonymous.status_code == 401
    assert no_csrf.status_code == 403


def _principal(email: str, role: str) -> str:
    claims = [{"typ": "preferred_username", "val": email}, {"typ": "roles", "val": role}]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


def test_the_host_path_reads_the_easy_auth_principal(desk, monkeypatch):
    monkeypatch.setenv("DESKMAIL_AUTH", "easyauth")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")

    session, page = _calls(
        _request("GET", "/api/v1/session",
                 headers={"X-MS-CLIENT-PRINCIPAL": _principal(ADMIN, "deskmail.admin")}),
        _request("GET", "/tickets"))

    assert json.loads(session.get_body())["role"] == "admin"
    assert page.status_code == 303 and page.headers["location"].startswith("/.auth/login/aad")


@pytest.mark.parametrize("env, message", [
    ({"DESKMAIL_AUTH": "dev", "WEBSITE_INSTANCE_ID": "0123abcd"}, "DESKMAIL_AUTH=dev is refused"),
    ({"DESKMAIL_AUTH": "easyauth", "WEBSITE_AUTH_ENABLED": ""}, "WEBSITE_AUTH_ENABLED=True"),
], ids=["dev-sign-in-in-azure", "easy-auth-without-the-platform-feature"])
def test_a_refused_setting_fails_every_request_on_the_host_path(desk, monkeypatch, caplog, env, message):
    """Closed, not open: the start-up check's message is logged and no request is answered."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.ERROR)
    _app, function = _host_function()
    principal = {"X-MS-CLIENT-PRINCIPAL": _principal(ADMIN, "deskmail.admin")}

    async def run():
        outcomes = []
        for path in ("/health", "/api/v1/session"):
            try:
                answer = await function(_request("GET", path, headers=principal), None)
                outcomes.append(answer.status_code)
            except RuntimeError as error:
                outcomes.append(str(error))
        return outcomes

    assert _in_own_loop(run) == ["ASGI middleware startup failed."] * 2
    assert message in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(process, url: str, attempts: int = 600):
    """Poll until the server answers; connection refused means not listening yet (bounded)."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stderr.read()}")
        try:
            return _get(url)
        except (urllib.error.URLError, ConnectionError):
            try:
                process.wait(timeout=0.1)  # not a timing assertion: the bounded retry's pause
            except subprocess.TimeoutExpired:
                pass
    raise AssertionError(f"{url} never answered")


def test_python_m_shared_code_web_serves_health(desk):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "shared_code.web", "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, env=dict(os.environ),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        status, body = _wait_for(process, f"http://127.0.0.1:{port}/health")
        assert status == 200
        health = json.loads(body)
        assert health["healthy"] is True and health["queues"]["outbound"] == 0
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/session")
        assert status == 401 and json.loads(body) == {"error": "sign-in required"}
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        assert status == 200 and "/health" in json.loads(body)["paths"]
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_python_m_shared_code_web_refuses_a_bad_setting(web_env, monkeypatch):
    monkeypatch.setenv("DESKMAIL_AUTH", "sometimes")
    out = subprocess.run([sys.executable, "-m", "shared_code.web", "--port", str(_free_port())],
                         cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "refused to start: setting DESKMAIL_AUTH must be one of" in out.stderr
    assert "Traceback" not in out.stderr
