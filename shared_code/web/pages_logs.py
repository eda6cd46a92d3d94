"""Admin pages for what went wrong: the system log (search, level, pages), quarantined mail
(retry, dismiss) and notifications that failed for good (requeue)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from ..services import quarantine as quarantine_service
from ..services.admin_views import (
    LogLevel,
    failed_notification_json,
    quarantine_json,
    search_log,
)
from ..services.outbound_queue import failed_notifications, requeue
from .auth import Principal
from .deps import admin, get_desk, render

router = APIRouter(include_in_schema=False)

_DONE = {"retry": "{id} will get one more attempt in the next fetch run of its mailbox.",
         "dismiss": "{id} dismissed.", "requeue": "Notification {id} is queued again.",
         "requeue_system": "System mail {id} is queued again; it is sent as it was written "
                           "(check when it was created: it may be stale)."}


def _flashes(done: str, item: str) -> list[tuple[str, str]]:
    return [("ok", _DONE[done].format(id=item))] if done in _DONE and item else []


@router.get("/admin/syslog")
def syslog_page(request: Request, q: str = "", level: LogLevel | None = None, page: int = 1,
                principal: Principal = Depends(admin), desk=Depends(get_desk)):
    found = search_log(desk, q, level, max(page, 1))

    def link(to: int) -> str:
        return "/admin/syslog?" + urlencode({k: v for k, v in (
            ("q", q), ("level", level.value if level else ""), ("page", to)) if v})

    return render(request, "admin_syslog.html", q=q, level=level.value if level else "",
                  levels=[lv.value for lv in LogLevel], found=found,
                  previous=link(found.page - 1) if found.page > 1 else "",
                  next=link(found.page + 1) if found.has_more else "")


@router.get("/admin/quarantine")
def quarantine_page(request: Request, all: bool = False, done: str = "", item: str = "",
                    principal: Principal = Depends(admin), desk=Depends(get_desk)):
    rows = [quarantine_json(r) for r in desk.quarantine.list(include_closed=all)]
    return render(request, "admin_quarantine.html", rows=rows, all=all,
                  flashes=_flashes(done, item))


def _back(path: str, done: str, item: str, **query) -> RedirectResponse:
    query.update(done=done, item=item)
    return RedirectResponse(f"{path}?{urlencode({k: v for k, v in query.items() if v})}",
                            status_code=303)


@router.post("/admin/quarantine/{qid}/retry")
def quarantine_retry(qid: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    row = quarantine_service.retry(desk, qid, by=principal.email)
    return _back("/admin/quarantine", "retry", row["RowKey"])


@router.post("/admin/quarantine/{qid}/dismiss")
def quarantine_dismiss(qid: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    row = quarantine_service.dismiss(desk, qid, by=principal.email)
    return _back("/admin/quarantine", "dismiss", row["RowKey"])


@router.get("/admin/notifications")
def notifications_page(request: Request, done: str = "", item: str = "",
                       principal: Principal = Depends(admin), desk=Depends(get_desk)):
    rows = [failed_notification_json(r) for r in failed_notifications(desk)]
    return render(request, "admin_notifications.html", rows=rows, flashes=_flashes(done, item))


@router.post("/admin/notifications/{notification_id}/requeue")
def notification_requeue(notification_id: str, principal: Principal = Depends(admin),
                         desk=Depends(get_desk)):
    notification = requeue(desk, notification_id)
    done = "requeue_system" if notification.get("type") == "system_mail" else "requeue"
    return _back("/admin/notifications", done, notification["id"])
