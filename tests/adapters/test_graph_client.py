"""GraphMailClient and its tokens against the fake identity platform and fake Graph (over TLS).

Real msal and requests throughout; faults come from the fakes (fail_next, hang_next); retry waits
run on a controlled clock (the client's `clock`/`sleep` parameters), never timed.
"""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared_code.adapters import graph as graph_module
from shared_code.adapters.graph import (
    GraphAuthError,
    GraphError,
    GraphMailClient,
    GraphMessageRef,
)
from shared_code.config import Settings
from shared_code.domain.model import EmailAccount, Purpose

MAILBOX = "support@contoso.example"
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)


def mime(n: int, sender: str = "alice@example.org") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: {MAILBOX}\r\nSubject: question {n}\r\n"
            f"Message-ID: <q{n}@example.org>\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nbody {n}\r\n").encode()


@pytest.fixture(autouse=True)
def _fresh_msal_apps():
    """MSAL apps (and their token caches) live per process: start and end every test without."""
    graph_module.clear_token_cache()
    yield
    graph_module.clear_token_cache()


@pytest.fixture
def settings(monkeypatch, cloud) -> Settings:
    monkeypatch.setenv("GRAPH_API_URL", cloud.graph_url)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", cloud.authority_host)
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    # any attempt to reach a public host (e.g. MSAL instance discovery) fails at once
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    return Settings.from_env()


@pytest.fixture
def account(mailbox_app, graph) -> EmailAccount:
    graph.add_mailbox(MAILBOX)
    return EmailAccount(address=MAILBOX, name="Support", purpose=Purpose.DEPARTMENT,
                        department="Support", tenant_id=mailbox_app["tenant_id"],
                        client_id=mailbox_app["client_id"],
                        client_secret_name=mailbox_app["client_secret_name"])


@pytest.fixture
def client(settings, account, mailbox_app):
    with GraphMailClient(settings, account, mailbox_app["secret"]) as c:
        yield c


def statuses(graph, contains: str = "") -> list[int]:
    return [r.status for r in graph.requests if contains in r.path]


# -- tokens -----------------------------------------------------------------------------------
def test_token_is_reused_across_clients(settings, account, mailbox_app, graph, identity):
    first = graph.add_message(MAILBOX, mime(1))
    second = graph.add_message(MAILBOX, mime(2))
    with GraphMailClient(settings, account, mailbox_app["secret"]) as a:
        assert b"body 1" in a.get_mime(first)
    with GraphMailClient(settings, account, mailbox_app["secret"]) as b:
        assert b"body 2" in b.get_mime(second)
    assert identity.token_requests == 1
    tokens = {r.headers["authorization"] for r in graph.requests}
    assert len(tokens) == 1


def test_expired_token_gets_one_retry_with_a_new_token(client, graph, identity):
    message_id = graph.add_message(MAILBOX, mime(1))
    client.get_mime(message_id)
    identity.expire_all_tokens()
    assert b"body 1" in client.get_mime(message_id)
    assert statuses(graph, "$value") == [200, 401, 200]
    assert identity.token_requests == 2
    old, refused, retried = [r.headers["authorization"] for r in graph.requests]
    assert old == refused != retried
    assert client.request_count == 3


def test_revoked_consent_raises_auth_error_without_the_secret(client, graph, identity,
                                                              mailbox_app):
    message_id = graph.add_message(MAILBOX, mime(1))
    identity.revoke(mailbox_app["client_id"])
    with pytest.raises(GraphAuthError) as caught:
        client.get_mime(message_id)
    error = caught.value
    assert error.code == "AADSTS65001"
    assert error.error == "unauthorized_client"
    assert "consented" in str(error)
    for text in (str(error), repr(error), error.message, error.description):
        assert mailbox_app["secret"] not in text
    assert graph.requests == []  # no token, no Graph request


def test_wrong_secret_raises_auth_error_without_either_secret(settings, account, graph,
                                                              mailbox_app):
    wrong = "wr0ng-s3cret-value"
    with GraphMailClient(settings, account, wrong) as c:
        with pytest.raises(GraphAuthError) as caught:
            list(c.list_messages("inbox", T0, top=10))
    assert caught.value.code == "AADSTS7000215"
    assert isinstance(caught.value, GraphError)
    assert wrong not in str(caught.value) and mailbox_app["secret"] not in str(caught.value)


def test_unknown_tenant_is_a_permanent_auth_error(settings, account, graph):
    account.tenant_id = "fabrikam-tenant"
    with GraphMailClient(settings, account, "some-s3cret") as c:
        with pytest.raises(GraphAuthError) as caught:
            c.get_mime("AAMk-id=")
    assert caught.value.code == "AuthorityUnavailable" and not caught.value.transient
    assert "fabrikam-tenant" in str(caught.value) and "some-s3cret" not in str(caught.value)


def test_identity_platform_outage_is_a_transient_auth_error(client, graph, identity):
    identity.fail_next(503, path_contains="/token")
    with pytest.raises(GraphAuthError) as caught:
        client.get_mime("AAMk-id=")
    assert caught.value.transient and caught.value.status == 503
    assert graph.requests == []


def test_token_for_another_secret_is_not_shared(settings, account, graph, identity, mailbox_app):
    """Apps are cached per authority + client id + secret hash: a rotated secret gets its own."""
    message_id = graph.add_message(MAILBOX, mime(1))
    with GraphMailClient(settings, account, mailbox_app["secret"]) as c:
        c.get_mime(message_id)
    identity.register_app(mailbox_app["tenant_id"], mailbox_app["client_id"], "r0tated-secret")
    with GraphMailClient(settings, account, "r0tated-secret") as c:
        c.get_mime(message_id)
    assert identity.token_requests == 2


# -- retries ----------------------------------------------------------------------------------
# The waits go through the client's `sleep` and `clock` parameters: the tests record the waits
# the client asks for (a controlled clock) instead of timing them on a loaded machine.
class ControlledClock:
    """`clock()` reads `now`; `sleep(s)` records the wait and moves `now` on by it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now, self.waits = now, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> ControlledClock:
    return ControlledClock()


def controlled_client(settings, account, mailbox_app, clock, **options) -> GraphMailClient:
    return GraphMailClient(settings, account, mailbox_app["secret"], clock=clock,
                           sleep=clock.sleep, **options)


def test_429_waits_for_retry_after(settings, account, mailbox_app, graph, clock):
    message_id = graph.add_message(MAILBOX, mime(1))
    graph.fail_next(429, retry_after=3, path_contains="$value")
    with controlled_client(settings, account, mailbox_app, clock) as c:
        assert b"body 1" in c.get_mime(message_id)
        assert c.request_count == 2
    assert clock.waits == [3.0]  # waited Retry-After, not a backoff of its own
    assert statuses(graph, "$value") == [429, 200]


def test_503_is_retried_with_backoff_then_succeeds(settings, account, mailbox_app, graph, clock):
    message_id = graph.add_message(MAILBOX, mime(1))
    graph.fail_next(503, count=2, path_contains="$value")  # no Retry-After: backoff 1 s, 2 s, +-25%
    with controlled_client(settings, account, mailbox_app, clock) as c:
        assert b"body 1" in c.get_mime(message_id)
    first, second = clock.waits
    assert 0.75 <= first <= 1.25 and 1.5 <= second <= 2.5
    assert statuses(graph, "$value") == [503, 503, 200]


def test_retries_exhausted_raise_graph_error(settings, account, mailbox_app, graph, clock):
    message_id = graph.add_message(MAILBOX, mime(1))
    graph.fail_next(503, count=10, path_contains="$value")
    settings = dataclasses.replace(settings, graph_max_retries=2)
    with controlled_client(settings, account, mailbox_app, clock) as c:
        with pytest.raises(GraphError) as caught:
            c.get_mime(message_id)
        assert c.request_count == 3
    assert len(clock.waits) == 2
    error = caught.value
    assert (error.status, error.code) == (503, "ServiceUnavailable")
    assert "after 2 retries" in str(error)
    assert statuses(graph, "$value") == [503, 503, 503]


def test_client_errors_are_not_retried(client, graph):
    with pytest.raises(GraphError) as caught:
        client.get_mime("AAMk-no-such-message_id=")
    assert (caught.value.status, caught.value.code) == (404, "ErrorItemNotFound")
    assert client.request_count == 1


def test_deadline_stops_a_wait_that_would_end_after_it(settings, account, mailbox_app, graph,
                                                      clock):
    message_id = graph.add_message(MAILBOX, mime(1))
    graph.fail_next(429, retry_after=5, path_contains="$value")
    graph.fail_next(429, retry_after=5, path_contains="$value")
    with controlled_client(settings, account, mailbox_app, clock, deadline=clock.now + 6) as c:
        with pytest.raises(GraphError) as caught:
            c.get_mime(message_id)
    assert clock.waits == [5.0]  # the first wait fits before the deadline, the second would not
    assert caught.value.code == "DeadlineExceeded"
    assert caught.value.status == 429
    assert statuses(graph, "$value") == [429, 429]


def test_read_timeout_is_retried(settings, account, mailbox_app, graph, clock):
    message_id = graph.add_message(MAILBOX, mime(1))
    graph.hang_next(120, path_contains="$value")  # longer than any test: only the client ends it
    with controlled_client(settings, account, mailbox_app, clock, timeout=(5, 0.5)) as c:
        assert b"body 1" in c.get_mime(message_id)
        assert c.request_count == 2
    assert len(clock.waits) == 1
    # the hung request is logged (status 0) only when the fake drops it: the retry was served
    # while it still hung, so the client gave up on its own read timeout
    assert statuses(graph, "$value") == [200]


def test_send_is_not_retried_after_a_server_error(client, graph):
    graph.fail_next(500, path_contains="sendMail")
    raw = f"From: {MAILBOX}\r\nTo: bob@example.org\r\nSubject: re\r\n\r\nhi\r\n".encode()
    with pytest.raises(GraphError) as caught:
        client.send_mime(raw)
    assert caught.value.status == 500
    assert graph.sent == []
    client.send_mime(raw)
    assert [s.raw for s in graph.sent] == [raw]
    request = [r for r in graph.requests if "sendMail" in r.path][-1]
    assert request.headers["content-type"].startswith("text/plain")


# -- listing and messages -----------------------------------------------------------------------
def test_list_messages_follows_every_page_lazily(client, graph):
    ids = [graph.add_message(MAILBOX, mime(n), received=T0 + timedelta(minutes=n))
           for n in range(7)]
    graph.add_message(MAILBOX, mime(99), received=T0 - timedelta(days=1))  # before `since`
    graph.add_message(MAILBOX, mime(98), folder="junkemail", received=T0 + timedelta(minutes=3))
    pages = client.list_messages("inbox", T0, top=3)
    first = next(pages)
    assert len([r for r in graph.requests if "/messages" in r.path]) == 1  # lazy
    refs = [first, *pages]
    assert [r.id for r in refs] == ids
    listing = [r for r in graph.requests if r.path.split("?")[0].endswith("/messages")]
    assert len(listing) == 3  # 3 + 3 + 1
    assert "$orderby=lastModifiedDateTime asc" in listing[0].path
    assert "lastModifiedDateTime ge 2026-03-02T09:00:00Z" in listing[0].path
    ref = refs[2]
    assert isinstance(ref, GraphMessageRef)
    assert ref.internet_message_id == "q2@example.org"
    assert ref.received == T0 + timedelta(minutes=2) and ref.received.tzinfo is not None
    assert (ref.is_read, ref.subject, ref.from_address) == (False, "question 2",
                                                            "alice@example.org")


def test_naive_since_is_taken_as_utc(client, graph):
    graph.add_message(MAILBOX, mime(1), received=T0 + timedelta(seconds=1))
    assert len(list(client.list_messages("inbox", T0.replace(tzinfo=None), top=5))) == 1
    assert len(list(client.list_messages("inbox", T0 + timedelta(hours=1), top=5))) == 0


def test_get_mime_mark_read_and_headers(client, graph):
    message_id = graph.add_message(MAILBOX, mime(5))
    assert {"-", "_", "="} <= set(message_id)  # must survive URL quoting
    assert client.get_mime(message_id) == mime(5)
    client.mark_read(message_id)
    assert graph.get_message(MAILBOX, message_id)["isRead"] is True
    assert graph.requests and all(
        r.headers.get("prefer") == 'IdType="ImmutableId"' for r in graph.requests)
    assert all(r.headers.get("authorization", "").startswith("Bearer ") for r in graph.requests)


# -- folders ------------------------------------------------------------------------------------
def test_resolve_folder_well_known_names(client, graph):
    assert client.resolve_folder("Inbox") == "inbox"
    assert client.resolve_folder("JUNKEMAIL") == "junkemail"
    assert client.resolve_folder("SentItems") == "sentitems"
    assert graph.requests == []  # used as they are, no lookup


def test_resolve_folder_custom_names_and_paths(client, graph):
    top = graph.add_folder(MAILBOX, "Projects", parent="msgfolderroot")
    support = graph.add_folder(MAILBOX, "Support", parent="inbox")
    tier2 = graph.add_folder(MAILBOX, "Tier 2 & O'Brien", parent=support)
    assert client.resolve_folder("Projects") == top
    assert client.resolve_folder("support") == support  # found under Inbox
    assert client.resolve_folder("Inbox/Support/Tier 2 & O'Brien") == tier2
    looked_up = len(graph.requests)
    assert client.resolve_folder("inbox/support/tier 2 & o'brien") == tier2  # cached
    assert len(graph.requests) == looked_up
    graph.add_message(MAILBOX, mime(1), folder=tier2, received=T0)
    assert [r.subject for r in client.list_messages(tier2, T0, top=10)] == ["question 1"]


def test_resolve_unknown_folder(client, graph):
    graph.add_folder(MAILBOX, "Support", parent="inbox")
    with pytest.raises(GraphError) as caught:
        client.resolve_folder("Nowhere")
    assert caught.value.code == "FolderNotFound" and "'Nowhere'" in str(caught.value)
    with pytest.raises(GraphError) as caught:
        client.resolve_folder("Inbox/Support/Missing")
    assert caught.value.code == "FolderNotFound"
    assert "'Missing'" in str(caught.value) and "Inbox/Support" in str(caught.value)


# -- concurrency --------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [4, 2])
def test_concurrency_never_exceeds_the_limit(settings, account, mailbox_app, graph, limit):
    ids = [graph.add_message(MAILBOX, mime(n)) for n in range(16)]
    graph.hold_until_in_flight(limit)  # real overlap by count: reaching the limit is certain
    graph.latency = 0.2  # keeps requests overlapping after that, so a client over the limit shows
    graph.concurrency_limit = limit  # the fake answers 429 above it
    settings = dataclasses.replace(settings, graph_max_concurrency=limit)
    with GraphMailClient(settings, account, mailbox_app["secret"]) as c:
        barrier = threading.Barrier(8)

        def fetch(message_id):
            if ids.index(message_id) < 8:
                barrier.wait(timeout=10)
            return c.get_mime(message_id)

        with ThreadPoolExecutor(max_workers=8) as pool:
            bodies = list(pool.map(fetch, ids))
        assert c.request_count == 16
    assert all(f"body {n}".encode() in body for n, body in enumerate(bodies))
    assert graph.max_concurrency_seen(MAILBOX) == limit
    assert 429 not in statuses(graph)


# -- cold start ---------------------------------------------------------------------------------
def test_import_is_cheap():
    """msal, requests and the Azure SDK are imported on first use, not with the modules."""
    code = ("import sys, shared_code.adapters.graph, shared_code.adapters.secret_store; "
            "print(sorted(m for m in ('msal', 'requests', 'azure.identity', "
            "'azure.keyvault.secrets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(Path(__file__).resolve().parents[2]))
    assert out.stdout.strip() == "[]"


# -- mail over the 4 MB request limit: draft, attachments, upload session, send ----------------
BIG = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB


def _draft_mime() -> bytes:
    return (f"From: {MAILBOX}\r\nTo: bob@example.org\r\nSubject: big\r\nMessage-ID: <big-1@contoso.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee files\r\n").encode()


def test_a_large_mail_goes_through_a_draft_and_an_upload_session(client, graph):
    from email import message_from_bytes, policy

    client.send_large(_draft_mime(), [("big.bin", "application/octet-stream", BIG), ("a.txt", "text/plain", b"hi\n")])
    [sent] = graph.sent
    mail = message_from_bytes(sent.raw, policy=policy.default)
    assert mail["Message-ID"] == "<big-1@contoso.example>"
    assert {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()} == {
        "big.bin": BIG, "a.txt": b"hi\n"}
    uploads = [r for r in graph.requests if r.path.startswith("/upload/")]
    assert len(uploads) == len(graph.drafts.chunks) >= 2 and all(r.status in (200, 201) for r in uploads)
    assert all("authorization" not in {k.lower() for k in r.headers} for r in uploads)
    assert client.find_sent("big-1@contoso.example") is not None
    assert graph.drafts.drafts == {}


def test_a_failed_upload_deletes_the_draft_and_sends_nothing(client, graph):
    graph.fail_next(500, path_contains="/upload/")
    with pytest.raises(GraphError) as caught:
        client.send_large(_draft_mime(), [("big.bin", "application/octet-stream", BIG)])
    assert caught.value.status == 500
    assert graph.sent == [] and graph.drafts.drafts == {}
    assert any(r.method == "DELETE" and "/messages/" in r.path for r in graph.requests)


def test_the_fake_refuses_a_request_body_over_4_mb_like_graph(client, graph):
    raw = _draft_mime() + b"x" * (3_200_000)  # base64 makes it over 4 MB
    with pytest.raises(GraphError) as caught:
        client.send_mime(raw)
    assert caught.value.status == 413 and graph.sent == []
