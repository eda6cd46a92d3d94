"""`/admin/doctor`: the doctor's report as a table (check, result, detail, fix), for every
account or one; the same report as `python -m shared_code.cli doctor`."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ..services.doctor import diagnose
from .auth import Principal
from .deps import admin, render

router = APIRouter(include_in_schema=False)

# the page's classes for each result (deskmail.css)
RESULT_CLASS = {"pass": "ok", "warn": "warning", "fail": "error"}


@router.get("/admin/doctor")
def doctor_page(request: Request, account: str = Query("", max_length=254),
                principal: Principal = Depends(admin)):
    factory = request.app.state.desk_factory
    report = diagnose(factory, account=account.strip() or None).as_dict()
    addresses = sorted(a.address for a in factory().accounts.list())
    return render(request, "admin_doctor.html", report=report, account=account.strip(),
                  addresses=addresses, result_class=RESULT_CLASS)
