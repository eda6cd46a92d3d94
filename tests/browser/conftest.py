"""Browser tests: Debian's chromium driven by Playwright against the real app under uvicorn.

* ``browser`` (session): one headless chromium from /usr/bin/chromium for the whole run (a
  launch costs about a second; a context per test costs milliseconds). Playwright gets an empty
  PLAYWRIGHT_BROWSERS_PATH and PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, so nothing can fetch a
  browser; each launch has its own fresh temporary profile (user-data dir).
* ``live_app``: ``create_app()`` served by uvicorn in a background thread on a free
  127.0.0.1 port, with Azurite and the fakes behind it (the ``desk`` of tests/web: dev sign-in,
  account support@contoso.example); ``live_app.url``, ``live_app.desk``, ``live_app.graph``.
* ``page``: a page in a new browser context on ``live_app.url``; ``page.reports`` collects
  what the browser reported (console messages, uncaught errors), ``page.requests`` every URL
  it asked for and ``page.failed`` every answer >= 400 (but /favicon.ico's 404); ``quiet``
  gives the reports but those failed loads, which ``page.failed`` names.
* ``sign_in(page, email)``: the real development sign-in form.

Tests wait on navigation, selectors and responses; never on time.
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.web.conftest import ADMIN, AGENT, desk, web_env  # noqa: F401 (fixtures used here)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session; fails (never skips) when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
                    "(`apt-get install chromium`; .ci/run installs it)", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="no-browsers-") as empty, pytest.MonkeyPatch.context() as env:
        env.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        env.setenv("PLAYWRIGHT_BROWSERS_PATH", empty)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                  args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@dataclass
class LiveApp:
    url: str
    desk: object
    graph: object


class _Server(threading.Thread):
    """uvicorn on an already listening socket: requests wait in its backlog until it serves."""

    def __init__(self, app) -> None:
        import uvicorn

        super().__init__(name="live-app", daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                                    timeout_graceful_shutdown=5))
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as error:  # reported by the fixture, not lost in the thread
            self.error = error

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live_app(desk, graph):  # noqa: F811 (desk is the imported fixture)
    """The app on http://127.0.0.1:<free port>, answering before the test starts."""
    from shared_code.web.app import create_app

    server = _Server(create_app())
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        with urllib.request.urlopen(f"{url}/auth/dev-login", timeout=60) as answer:
            assert answer.status == 200
    except OSError as error:
        server.stop()
        pytest.fail(f"the live app did not answer on {url}: {error!r} (server: {server.error!r})")
    yield LiveApp(url=url, desk=desk, graph=graph)
    server.stop()


@pytest.fixture
def page(browser, live_app):
    # the identity fake (admin consent) speaks TLS with a throwaway CA the browser does not know
    context = browser.new_context(base_url=live_app.url, viewport={"width": 1280, "height": 900},
                                  ignore_https_errors=True)
    context.set_default_timeout(15_000)  # how long a missing element takes to fail, not a bound
    page = context.new_page()
    page.reports = []
    page.requests = []
    page.on("console", lambda message: page.reports.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.reports.append(f"pageerror: {error}"))
    page.failed = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("response", lambda response: page.failed.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico") else None)
    yield page
    context.close()


def quiet(page) -> list[str]:
    """What the browser reported, but the "Failed to load resource" lines (see page.failed)."""
    return [r for r in page.reports if "Failed to load resource" not in r]


def sign_in(page, email: str, next: str = "/tickets") -> None:
    """Sign in through the development form (GET /auth/dev-login, fill #email, submit)."""
    page.goto(f"/auth/dev-login?next={quote(next, safe='')}")
    page.fill("#email", email)
    with page.expect_navigation():
        page.click("form[action='/auth/dev-login'] button[type=submit]")
    assert "/auth/dev-login" not in page.url, page.content()


def screenshots_wanted() -> Path | None:
    """docs/screenshots when DESKMAIL_SCREENSHOTS=1 (CI leaves the tree clean), else None."""
    if os.environ.get("DESKMAIL_SCREENSHOTS") != "1":
        return None
    folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
