"""`GET /api/v1/reconcile` (admin): a folder's day of mail against what deskmail recorded,
as `python -m shared_code.cli reconcile --json` prints it (services/reconcile.py)."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from ..domain.reconcile import MailCategory
from ..services.reconcile import reconcile
from .api_common import ERRORS
from .auth import Principal
from .deps import admin, get_desk

router = APIRouter(prefix="/api/v1", tags=["reconciliation"], responses=ERRORS)


class ReconciledMail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    graph_id: str
    received: str
    subject: str
    sender: str = Field(alias="from")
    category: MailCategory
    detail: str = Field(description="the ticket, the discarding rule, the quarantine id or "
                                    "the last error, by category")


class GoneMail(BaseModel):
    """A mail the ledger recorded that is no longer in the folder (moved or deleted)."""

    graph_id: str
    received: str | None
    state: str
    outcome: str
    ticket: str


class AccountDay(BaseModel):
    account: str
    day: str
    folder: str
    error: str = Field(description="why the folder could not be listed (nothing compared)")
    total: int
    counts: dict[str, int] = Field(description="mails per category, every category named")
    unaccounted: list[ReconciledMail]
    new_alerts: int = Field(description="unaccounted mails logged by this run (once per mail "
                                        "and day)")
    mails: list[ReconciledMail]
    gone: list[GoneMail]


@router.get("/reconcile", response_model=list[AccountDay], response_model_by_alias=True)
def reconcile_api(account: str | None = Query(None, max_length=320,
                                              description="one account (default: every "
                                                          "fetched account)"),
                  day: date | None = Query(None, description="the UTC day (default: yesterday "
                                                              "and today)"),
                  principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [result.json() for result in reconcile(desk, account=account or None, day=day)]
