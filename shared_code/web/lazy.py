"""An ASGI app that builds the real one on its first request or lifespan event.

function_app.py hands this to `AsgiFunctionApp`, so importing function_app (every cold start
of the timer and queue functions too) loads neither FastAPI nor the Azure SDKs; the web
framework's import cost is paid by the first HTTP request (docs/performance.md).
"""
from __future__ import annotations

import threading


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
        await self._real()(scope, receive, send)
