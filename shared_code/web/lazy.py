"""An ASGI app that builds the real one on its first request or lifespan event.

function_app.py hands this to `AsgiFunctionApp`, so importing function_app (every cold start
of the timer and queue functions too) loads neither FastAPI nor the Azure SDKs; the web
framework's import cost is paid by the first HTTP request (docs/performance.md).

A setting that makes the app refuse to build (DESKMAIL_AUTH=dev in Azure, Easy Auth without
WEBSITE_AUTH_ENABLED) is reported as a failed lifespan start-up with its message: the Functions
host's middleware logs it and every request fails with an error, never served unprotected.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("deskmail.web")


class LazyWebApp:
    def __init__(self) -> None:
        self._app = None
        self._lock = threading.Lock()

    def _real(self):
        with self._lock:
            if self._app is None:
                from .app import create_app

                self._app = create_app()
            return self._app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan" and self._app is None:
            try:
                app = self._real()
            except Exception as error:  # noqa: BLE001 - any failure must stop the start-up
                log.error("the web app refused to start: %s", error)
                await receive()  # lifespan.startup
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
            await app(scope, receive, send)
            return
        await self._real()(scope, receive, send)
