"""Pydantic models shared by the admin API modules, so the OpenAPI document is accurate."""
from __future__ import annotations

from pydantic import BaseModel


class ErrorOut(BaseModel):
    error: str
    field: str | None = None


#: The error answers every admin API route may give (documented in OpenAPI).
ERRORS = {401: {"model": ErrorOut, "description": "not signed in"},
          403: {"model": ErrorOut, "description": "not an admin, or a missing/wrong X-CSRF-Token"},
          404: {"model": ErrorOut, "description": "no such item"},
          422: {"model": ErrorOut, "description": "invalid input; `field` names it"}}
