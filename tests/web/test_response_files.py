"""Files staff attach to a response, from the thread page (multipart upload) and the JSON API
(base64): stored content-addressed in Blob, shown on the thread, mailed with the response;
a mail over Graph's 4 MB request limit goes out through a draft and an upload session."""
from __future__ import annotations

import base64
import hashlib
from email import message_from_bytes, policy

import pytest

from shared_code.adapters.names import ATTACHMENTS
from shared_code.services.outbound_queue import drain_outbound

from .conftest import api_post
from .ticket_setup import no_role_client, quiet_ticket

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64


@pytest.fixture
def ticket(desk, graph):
    return quiet_ticket(desk, graph)


def _files_sent_to_client(graph) -> dict[str, bytes]:
    [(_, raw)] = [(box, raw) for box, raw in graph.sent if b"ann@example.org" in raw.split(b"\r\n\r\n", 1)[0]]
    mail = message_from_bytes(raw, policy=policy.default)
    return {part.get_filename(): part.get_payload(decode=True) for part in mail.iter_attachments()}


def _response(desk, number):
    [entry] = [e for e in desk.tickets.entries(number) if e.type == "response"]
    return entry


def _upload(client, path, files, text="Here is the quote.", csrf=None):
    data = {"csrf_token": client.csrf if csrf is None else csrf, "text": text}
    return client.post(path, data=data, files=files)


def test_a_file_uploaded_on_the_page_is_stored_and_mailed(as_staff, desk, graph, ticket):
    answer = _upload(as_staff, f"/tickets/{ticket.number}/reply",
                     [("files", ("quote.pdf", PDF, "application/pdf")), ("files", ("", b"", "application/octet-stream"))])
    assert answer.status_code == 303, answer.text[-3000:]
    [stored] = _response(desk, ticket.number).attachments
    assert (stored.name, stored.content_type, stored.size) == ("quote.pdf", "application/pdf", len(PDF))
    assert desk.blobs.get(ATTACHMENTS, hashlib.sha256(PDF).hexdigest()) == PDF
    assert "quote.pdf" in as_staff.get(f"/tickets?number={ticket.number}").text
    drain_outbound(desk, release_after=0)
    assert _files_sent_to_client(graph) == {"quote.pdf": PDF}


def test_an_empty_file_on_the_page_is_refused_with_its_name(as_staff, desk, ticket):
    answer = _upload(as_staff, f"/tickets/{ticket.number}/reply", [("files", ("empty.txt", b"", "text/plain"))])
    assert answer.status_code == 422
    assert "attachments: empty.txt is empty" in answer.text
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]


def test_uploads_need_sign_in_a_role_and_the_csrf_token(web, as_staff, desk, ticket):
    path = f"/tickets/{ticket.number}/reply"
    files = [("files", ("quote.pdf", PDF, "application/pdf"))]
    anonymous = web.post(path, data={"text": "x"}, files=files)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/auth/")
    assert as_staff.post(path, data={"text": "x"}, files=files).status_code == 403
    assert _upload(as_staff, path, files, csrf="wrong").status_code == 403
    with no_role_client() as client:
        assert client.post(path, data={"text": "x"}, files=files).status_code == 403
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_api_attachments_are_stored_returned_and_mailed(as_staff, desk, graph, ticket):
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/reply", {
        "text": "Attached.", "attachments": [
            {"name": "quote.pdf", "content_base64": _b64(PDF)},
            {"name": "notes.txt", "content_type": "text/plain", "content_base64": _b64(b"line one\n")}]})
    assert answer.status_code == 201
    shown = {a["name"]: a for a in answer.json()["attachments"]}
    assert shown["quote.pdf"]["content_type"] == "application/pdf" and shown["quote.pdf"]["size"] == len(PDF)
    drain_outbound(desk, release_after=0)
    assert _files_sent_to_client(graph) == {"quote.pdf": PDF, "notes.txt": b"line one\n"}


@pytest.mark.parametrize("attachments, message", [
    ([{"name": "a.bin", "content_base64": "not base64!"}], "not valid base64"),
    ([{"name": "a.bin", "content_base64": _b64(b"x")}] * 21, "attachments"),
    ([{"name": "../..", "content_base64": _b64(b"x")}], "not a usable file name"),
    ([{"name": "a.bin", "content_base64": "", }], "content_base64"),
    ([{"name": "a.bin", "data": _b64(b"x")}], "content_base64: Field required"),
])
def test_bad_api_attachments_are_422_naming_the_field(as_staff, desk, ticket, attachments, message):
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/reply", {"text": "x", "attachments": attachments})
    assert answer.status_code == 422
    assert answer.json()["field"].startswith("attachments") and message in answer.text
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]


def test_a_note_takes_no_attachments(as_staff, desk, ticket):
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/note",
                      {"text": "x", "attachments": [{"name": "a.bin", "content_base64": _b64(b"x")}]})
    assert answer.status_code == 422 and answer.json()["field"] == "attachments"


def test_a_six_megabyte_response_goes_through_a_draft_and_an_upload_session(as_staff, desk, graph, ticket):
    big = bytes(range(256)) * (6 * 1024 * 4)  # 6 MiB: over Graph's 4 MB request limit
    small = b"small file\n"
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/reply", {
        "text": "The full log.", "attachments": [
            {"name": "server.log", "content_type": "text/plain", "content_base64": _b64(big)},
            {"name": "readme.txt", "content_base64": _b64(small)}]})
    assert answer.status_code == 201
    graph.requests.clear()
    drain_outbound(desk, release_after=0)
    files = _files_sent_to_client(graph)
    assert files == {"server.log": big, "readme.txt": small}
    assert len(graph.drafts.chunks) >= 2 and max(graph.drafts.chunks) <= 4 * 1024 * 1024
    assert sum(graph.drafts.chunks) == len(big)
    paths = [r.path for r in graph.requests]
    assert not any(p.endswith("/sendMail") for p in paths)
    assert any(p.endswith("/attachments/createUploadSession") for p in paths)
    assert graph.drafts.drafts == {}  # sent: no draft left behind


def _reply_with(as_staff, number, data: bytes):
    answer = api_post(as_staff, f"/api/v1/tickets/{number}/reply", {
        "text": "Files.", "attachments": [{"name": "dump.bin", "content_base64": _b64(data)}]})
    assert answer.status_code == 201


def test_over_the_mailbox_send_limit_is_refused_not_truncated(as_staff, desk, graph, ticket, monkeypatch):
    from shared_code.services import send_delivery

    monkeypatch.setattr(send_delivery, "MAILBOX_SEND_LIMIT", 5 * 1024 * 1024)  # instead of 150 MB
    _reply_with(as_staff, ticket.number, bytes(range(256)) * (6 * 1024 * 4))
    [result] = [r for r in drain_outbound(desk, release_after=0) if r.template == "response"]
    assert result.outcome == "failed" and result.reason.startswith("MessageTooLarge")
    assert graph.sent == [] and graph.drafts.drafts == {}


def test_a_file_missing_from_blob_fails_the_notification(as_staff, desk, graph, ticket):
    data = b"will vanish"
    _reply_with(as_staff, ticket.number, data)
    assert desk.blobs.delete(ATTACHMENTS, hashlib.sha256(data).hexdigest())
    [result] = [r for r in drain_outbound(desk, release_after=0) if r.template == "response"]
    assert result.outcome == "failed" and result.error_code == "AttachmentMissing"
    assert graph.sent == []


def test_the_cli_attaches_files_to_a_reply(desk, graph, ticket, tmp_path):
    from tests.integration.helpers import run_cli

    path = tmp_path / "quote.pdf"
    path.write_bytes(PDF)
    code, out = run_cli("tickets", "reply", ticket.number, "--staff", "agent@contoso.example",
                        "--text", "See the quote.", "--attach", str(path), "--json")
    assert code == 0 and out["attachments"] == ["quote.pdf"]
    drain_outbound(desk, release_after=0)
    assert _files_sent_to_client(graph) == {"quote.pdf": PDF}
    assert run_cli("tickets", "reply", ticket.number, "--staff", "agent@contoso.example",
                   "--text", "x", "--attach", str(tmp_path / "missing.pdf"))[0] != 0
