"""`GET /api/v1/doctor` (admin): the doctor's report as JSON, the shape of `doctor --json`."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..domain.diagnosis import CheckId, GuideRow, Result
from ..services.doctor import diagnose
from .api_common import ERRORS
from .auth import Principal
from .deps import admin

router = APIRouter(prefix="/api/v1", tags=["doctor"], responses=ERRORS)


class DoctorCheck(BaseModel):
    check: CheckId = Field(description="which check (docs/troubleshooting.md, Doctor)")
    title: str
    row: GuideRow = Field(description="the guide's troubleshooting row this check answers")
    result: Result
    detail: str
    fix: str = Field(description="what to do; empty when the check passed")
    target: str = Field(description="the account, domain or container checked; empty: the system")


class Counts(BaseModel):
    pass_: int = Field(alias="pass")
    warn: int
    fail: int


class DoctorAnswer(BaseModel):
    ok: bool = Field(description="no check failed (warnings allowed)")
    exit_code: int = Field(description="what `doctor` exits with: 0 ok, 1 a check failed")
    counts: Counts
    checks: list[DoctorCheck]


@router.get("/doctor", response_model=DoctorAnswer, response_model_by_alias=True)
def doctor(request: Request,
           account: str = Query("", max_length=254,
                                description="run the account checks for this address only"),
           principal: Principal = Depends(admin)):
    """Run every check now (it writes and deletes one probe image) and report each."""
    return diagnose(request.app.state.desk_factory, account=account.strip() or None).as_dict()
