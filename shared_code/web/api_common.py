"""What the JSON API declares in its OpenAPI document for errors, so every operation names its
401/403/404/422 answers with the one error body app.py sends (`{"error": ..., "field": ...}`).

Routes use it as `@router.get(..., responses=ERRORS)` or pick a subset with `errors(401, 404)`.
"""
from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """Every error of /api/ and /attachments/: a message, and the field it is about if any."""

    error: str = Field(description="what went wrong, naming the field when one is at fault")
    field: str | None = Field(None, description="the request field at fault (JSON path, form "
                                                "field, query parameter or header)")


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not signed in (no session cookie, Easy Auth principal or bearer token)",
    403: "Signed in without the role this needs, or a missing or wrong X-CSRF-Token",
    404: "No such ticket, account, template or file",
    409: "Conflicts with the current state",
    422: "A field is invalid; `field` names it",
}


def errors(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for these error statuses, all with the ErrorBody schema."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}


# what a signed-in operation can answer besides success
ERRORS = errors(401, 403, 404, 422)
