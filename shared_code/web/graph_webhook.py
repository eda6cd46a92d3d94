"""`POST /api/graph/notifications`: Microsoft Graph's change-notification webhook (push
ingestion, services/subscriptions.py). Anonymous, because Graph cannot sign in: each
notification instead proves itself with its subscription's clientState.

It answers the validation handshake (the `validationToken` echoed as text/plain) and
acknowledges notifications with 202 once the fetch jobs are queued, doing nothing else in the
request, so Graph's 3 s (notifications) and 10 s (handshake) limits hold. It lives in the web
app rather than a separate Functions route so that the local run and the tests serve it too.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..services.subscriptions import accept_notifications
from .deps import get_desk

router = APIRouter()
PATH = "/api/graph/notifications"
MAX_TOKEN = 1024
MAX_BODY = 1024 * 1024


def _bad(message: str, field: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=400)


@router.post(PATH, include_in_schema=False)
async def graph_notifications(request: Request, desk=Depends(get_desk)):
    token = request.query_params.get("validationToken")
    if token is not None:
        if not token or len(token) > MAX_TOKEN:
            return _bad("validationToken must be 1 to 1024 characters", "validationToken")
        return PlainTextResponse(token, status_code=200)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _bad("the notification body is too large", "body")
    try:
        payload = json.loads(raw or b"null")
    except ValueError:
        return _bad("the body must be a JSON change notification", "body")
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list):
        return _bad("the body must hold a 'value' list of notifications", "value")
    await run_in_threadpool(accept_notifications, desk, payload)
    return Response(status_code=202)
