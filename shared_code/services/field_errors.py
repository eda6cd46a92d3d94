"""Validation errors tied to the form field (or JSON member) they are about.

A page shows each message next to its field; the API answers `{"error": ..., "field": ...}`.
`FieldErrors` is a `ValidationError`, so every caller that handles one (the CLI's `error:`
line, the web's 422) handles these too.
"""
from __future__ import annotations

from typing import Callable

from ..domain.model import ValidationError


class FieldErrors(ValidationError):
    """One or more messages keyed by field; `field` is the first (what the API reports)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = dict(errors)
        self.field = next(iter(errors), None)


def field_of(error: ValidationError) -> str | None:
    """The field an error names, when it names one (works with any ValidationError)."""
    return getattr(error, "field", None)


def collect(checks: dict[str, Callable[[], object]], errors: dict[str, str] | None = None) -> None:
    """Run each field's check (not those already in `errors`); raise FieldErrors with the
    message of every one that failed, and of `errors`."""
    errors = dict(errors or {})
    for name, check in checks.items():
        if name in errors:
            continue
        try:
            check()
        except ValidationError as error:
            errors[name] = str(error)
    if errors:
        raise FieldErrors(errors)
