"""Admin → Reconciliation: the form (account, day) and the report of
services/reconcile.py, the same as `python -m shared_code.cli reconcile` shows."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request

from ..domain.model import ValidationError
from ..domain.reconcile import MailCategory
from ..services.reconcile import reconcile
from .auth import Principal
from .deps import admin, get_desk, render

router = APIRouter(include_in_schema=False)


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"day must be YYYY-MM-DD, got {text[:40]!r}", "day") from None


@router.get("/admin/reconcile")
def reconcile_page(request: Request, account: str = "", day: str = "",
                   principal: Principal = Depends(admin), desk=Depends(get_desk)):
    results = reconcile(desk, account=account.strip() or None, day=_day(day))
    return render(request, "admin_reconcile.html", results=results, account=account.strip(),
                  day=day.strip(), accounts=[a.address for a in desk.accounts.list()],
                  categories=list(MailCategory))
