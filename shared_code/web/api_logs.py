"""`/api/v1/syslog`, `/api/v1/quarantine` and `/api/v1/notifications/failed` (admin)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from ..services import quarantine as quarantine_service
from ..services.admin_views import (
    PAGE_SIZE,
    LogLevel,
    failed_notification_json,
    quarantine_json,
    search_log,
)
from ..services.outbound_queue import failed_notifications, requeue
from .auth import Principal
from .deps import admin, get_desk
from .api_common import ERRORS

router = APIRouter(prefix="/api/v1", tags=["logs"], responses=ERRORS)


class LogEntry(BaseModel):
    time: str | None
    level: str | None
    title: str | None
    message: str | None
    account: str = ""


class LogPage(BaseModel):
    entries: list[LogEntry]
    page: int
    per_page: int
    has_more: bool
    days: int


class Party(BaseModel):
    name: str = ""
    email: str = ""


class Quarantined(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    state: str
    account: str
    graph_id: str | None
    message_id: str
    subject: str
    sender: Party = Field(alias="from")
    received: str | None
    error: str
    attempts: int
    raw_blob: str
    quarantined_at: str | None
    retry_requested_at: str | None
    retry_requested_by: str
    dismissed_at: str | None
    dismissed_by: str
    released_at: str | None
    outcome: str
    ticket: str


class FailedNotification(BaseModel):
    id: str
    type: str = Field("notification", description="notification, or system_mail (a monitor "
                      "alert or secret-expiry warning: `template` is its kind, no ticket)")
    template: str
    ticket: str
    sender: str
    recipients: str
    subject: str
    attempts: int
    error_code: str
    error: str
    created: str | None = Field(None, description="when it was first queued (a requeued "
                                "monitor alert may be stale: it is still sent)")
    updated: str | None


class Requeued(BaseModel):
    id: str
    state: str = "queued"


@router.get("/syslog", response_model=LogPage)
def syslog(q: str = Query("", max_length=200, description="title or message contains (any case)"),
           level: LogLevel | None = None, page: int = Query(1, ge=1, le=10_000),
           principal: Principal = Depends(admin), desk=Depends(get_desk)):
    found = search_log(desk, q, level, page)
    return {"entries": found.entries, "page": found.page, "per_page": PAGE_SIZE,
            "has_more": found.has_more, "days": found.days}


@router.get("/quarantine", response_model=list[Quarantined], response_model_by_alias=True)
def quarantine(all: bool = Query(False, description="also dismissed and processed mail"),
               principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [quarantine_json(r) for r in desk.quarantine.list(include_closed=all)]


@router.post("/quarantine/{qid}/retry", response_model=Quarantined, response_model_by_alias=True)
def quarantine_retry(qid: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return quarantine_json(quarantine_service.retry(desk, qid, by=principal.email))


@router.post("/quarantine/{qid}/dismiss", response_model=Quarantined,
             response_model_by_alias=True)
def quarantine_dismiss(qid: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return quarantine_json(quarantine_service.dismiss(desk, qid, by=principal.email))


@router.get("/notifications/failed", response_model=list[FailedNotification])
def notifications_failed(principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [failed_notification_json(r) for r in failed_notifications(desk)]


@router.post("/notifications/{notification_id}/requeue", response_model=Requeued)
def notification_requeue(notification_id: str, principal: Principal = Depends(admin),
                         desk=Depends(get_desk)):
    return {"id": requeue(desk, notification_id)["id"]}
