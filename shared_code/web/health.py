"""`GET /health` (and `/api/v1/health`): no sign-in, for uptime checks. 503 when any fetching
account is stale or failing; a missing push subscription is a warning (still 200). The body
names accounts only by an opaque id."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..domain.fetch_health import FetchState, PushState
from ..services.health_check import health_report
from .deps import get_desk, web_settings

router = APIRouter()


class AccountHealthBody(BaseModel):
    id: str = Field(description="opaque, stable id of the account (not its address)")
    healthy: bool
    state: FetchState = Field(description="healthy, stale (no successful fetch within "
                                          "FETCH_STALE_MINUTES) or failing (repeated failures)")
    minutes_since_fetch: float | None = Field(description="minutes since the last successful "
                                                          "fetch (or since the account was added)")
    push: PushState = Field(description="off (push not configured or not fetching), active, or "
                                        "missing (no live Graph subscription: a warning)")


class QueueDepths(BaseModel):
    outbound: int = Field(description="notifications waiting to be sent (outbound-mail)")
    outbound_poison: int = Field(description="notifications that failed for good, not yet "
                                             "recorded (outbound-mail-poison)")
    fetch_jobs: int = Field(description="fetch jobs waiting (fetch-jobs)")


class HealthBody(BaseModel):
    healthy: bool
    accounts: list[AccountHealthBody]
    queues: QueueDepths
    warnings: list[str] = Field(description="problems that slow, not stop, the helpdesk")


_DOC = {503: {"model": HealthBody, "description": "An account's fetching is stale or failing"}}


def _health(request: Request, desk) -> JSONResponse:
    settings = web_settings(request)
    report = health_report(desk, datetime.now(timezone.utc), settings.fetch_stale_minutes,
                           settings.session_key)
    body = HealthBody(
        healthy=report.healthy,
        accounts=[AccountHealthBody(id=a.id, healthy=a.healthy, state=a.state,
                                    minutes_since_fetch=a.minutes_since_fetch, push=a.push)
                  for a in report.accounts],
        queues=QueueDepths(**vars(report.queues)),
        warnings=[a.warning for a in report.accounts if a.warning])
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if report.healthy else 503,
                        headers={"Cache-Control": "no-store"})


@router.get("/health", response_model=HealthBody, responses=_DOC, tags=["health"])
def health(request: Request, desk=Depends(get_desk)):
    """Fetching health per account and the queue depths; no sign-in needed."""
    return _health(request, desk)


@router.get("/api/v1/health", response_model=HealthBody, responses=_DOC, tags=["health"])
def api_health(request: Request, desk=Depends(get_desk)):
    """The same as `GET /health`, under the API's prefix."""
    return _health(request, desk)
