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


_UNSAFE = {"post", "put", "patch", "delete"}
_REF = "#/components/schemas/ErrorBody"


def _error_response(status: int) -> dict:
    return {"description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": _REF}}}}


def _statuses(path: str, method: str, operation: dict) -> set[int]:
    statuses = set()
    if operation.get("security"):  # deps.signed_in (and staff / admin) declare it
        statuses.update((401, 403))  # 403: the role, or the CSRF token of a browser session
    if "{" in path:
        statuses.add(404)
    if operation.get("parameters") or operation.get("requestBody") or method in _UNSAFE:
        statuses.add(422)
    if operation.get("requestBody"):
        statuses.add(400)  # a body that is not JSON (or not a form) at all
    return statuses


def document_errors(app) -> None:
    """Make the OpenAPI document say what the app answers on error, for every JSON operation:
    401 when it needs sign-in, 403 for a role or CSRF, 404 with a path parameter, 422 with
    input, all with ErrorBody (app.py's handlers), in place of FastAPI's own 422 schema that
    this app never sends. Derived from the document (sign-in shows as `security`), so new
    routes need nothing."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith(("/api/", "/attachments/")):
                continue
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in sorted(_statuses(path, method, operation)):
                    current = responses.get(str(status))
                    if current is None or "HTTPValidationError" in str(current):
                        responses[str(status)] = _error_response(status)
        if "HTTPValidationError" not in str(schema["paths"]):
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
        return schema

    app.openapi = openapi
