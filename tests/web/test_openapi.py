"""The OpenAPI document, fuzzed: schemathesis generates requests for every operation the
document lists (whatever routes exist: nothing here names them), sends them through the ASGI
app in-process signed in as an admin with the CSRF header, and checks that no answer is a 5xx
and that every answer conforms to the document (status code, content type, body schema).

Small and deterministic: a fixed seed, FUZZ_EXAMPLES generated cases per operation (a few
dozen at most, for 2 cores), no example database. Azurite and the fakes stand behind the app,
with one ticket ingested so look-ups can hit something."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from shared_code.web.auth import CSRF_HEADER, SESSION_COOKIE
from shared_code.web.settings import AuthMode, Role, WebSettings
from tests.integration.helpers import SUPPORT, make_mail, run_cli

from .conftest import ADMIN, AGENT, sign_in

FUZZ_EXAMPLES = int(os.environ.get("DESKMAIL_FUZZ_EXAMPLES", "12"))
SEED = 8

CONFIG = {
    "seed": SEED,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "generation": {"max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none",
                   "mode": "all"},
    "phases": {"examples": {"enabled": True}, "fuzzing": {"enabled": True},
               "coverage": {"enabled": False}, "stateful": {"enabled": False}},
    # what this test promises: no 5xx, and answers as documented. Off: checks about what the
    # document cannot say (a schema-valid request may still be refused by a domain rule, 422)
    # and stateful ones; access rules have their own tests.
    "checks": {"enabled": False,
               "not_a_server_error": {"enabled": True},
               "status_code_conformance": {"enabled": True},
               "content_type_conformance": {"enabled": True},
               "response_schema_conformance": {"enabled": True},
               "response_headers_conformance": {"enabled": True}},
}



def _app():
    """Built when the tests are collected, so the schema lists every operation of the routes
    present (one test per operation). Its sign-in settings are explicit; the helpdesk behind
    each request comes from the environment of the test (Azurite, the fakes)."""
    from shared_code.web.app import create_app

    return create_app(WebSettings(auth=AuthMode.DEV, session_key=b"fuzz" * 10,
                                  dev_users={ADMIN: Role.ADMIN, AGENT: Role.STAFF}))


APP = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP,
                                        config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture
def fuzz(desk, graph):
    """An admin's session cookie and CSRF token on APP, and a ticket to find."""
    from fastapi.testclient import TestClient

    raw, _ = make_mail(subject="Fuzzing target", body="A ticket for the fuzzer to find.")
    graph.add_message(SUPPORT, raw)
    code, _ = run_cli("fetch", "--json")
    assert code == 0
    with TestClient(APP, follow_redirects=False) as client:
        sign_in(client, ADMIN)
        yield SimpleNamespace(cookie=client.cookies[SESSION_COOKIE], csrf=client.csrf)


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # `fuzz` is set up per operation
def test_no_generated_request_fails_or_breaks_the_document(case, fuzz):
    response = case.call(headers={CSRF_HEADER: fuzz.csrf}, cookies={SESSION_COOKIE: fuzz.cookie})
    case.validate_response(response)


def test_the_document_declares_errors_with_the_error_body(web):
    document = web.get("/api/v1/openapi.json").json()
    session = document["paths"]["/api/v1/session"]["get"]
    for status in ("401", "403"):
        assert session["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"}
    assert {"session", "entra"} <= set(document["components"]["securitySchemes"])
    assert "HTTPValidationError" not in str(document)
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


def test_an_unsigned_request_answers_the_declared_401(web):
    answer = web.get("/api/v1/session")
    assert answer.status_code == 401
    assert set(answer.json()) <= {"error", "field"}
