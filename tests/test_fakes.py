"""The fakes, exercised with the real SDKs (msal, azure-identity, azure-keyvault-secrets,
requests, azure-storage/data-tables against Azurite).

What the installed SDKs do against a non-Microsoft authority host (read from their source):

* msal 1.39 (authority.py): for a host outside WELL_KNOWN_AUTHORITY_HOSTS, MSAL first calls
  *instance discovery* on login.microsoftonline.com (``/common/discovery/instance``) - the
  real host, not ours - unless ``instance_discovery=False`` (or ``validate_authority=False``).
  With it off, MSAL only GETs ``{authority}/v2.0/.well-known/openid-configuration`` (in the
  constructor, so an unknown tenant raises ValueError there) and reads ``authorization_endpoint``
  and ``token_endpoint``; the tenant is taken from the token endpoint's path. Client
  credentials then POST ``grant_type=client_credentials, client_id, client_secret, scope``
  (plus ``claims`` when capabilities/CAE are on) to the token endpoint. MSAL never decodes a
  client-credentials access token, so any string works. MSAL's HTTP layer caches per app
  object: discovery for 24 h, and a 400 from the token endpoint for 60 s (so after
  ``identity.restore()`` the same app object keeps failing for a minute; 401s are not
  cached). Cached tokens count as expired 5 minutes before ``expires_in`` runs out, so a
  ``token_lifetime`` under 300 s means a token request per call. After
  ``identity.expire_all_tokens()`` MSAL still serves its cached token; a client recovers from
  Graph's 401 with ``app.remove_tokens_for_client()`` and acquiring again.
* azure-identity 1.27: credentials take ``authority=`` or AZURE_AUTHORITY_HOST and build the
  MSAL app with ``instance_discovery = not disable_instance_discovery``; left at None, MSAL
  does instance discovery against login.microsoftonline.com and fails. So
  ClientSecretCredential / EnvironmentCredential need ``disable_instance_discovery=True``
  (EnvironmentCredential passes its kwargs through to ClientSecretCredential; there is no
  environment variable for it). Their HTTP goes through azure-core's requests transport,
  which honours REQUESTS_CA_BUNDLE.
* azure-keyvault-secrets 4.12 (_shared/challenge_auth_policy.py): the first request goes out
  without a token, the 401's ``WWW-Authenticate`` gives ``authorization`` (tenant = first path
  segment) and ``resource``/``scope``; the credential is asked for ``{resource}/.default`` in
  that tenant. ``_validate_challenge_resource`` requires the request's netloc (port included
  unless 443) to end with ``"." + netloc(resource)``. The real ``https://vault.azure.net``
  can never match a local URL, so the fake serves ``https://127.0.0.1:PORT`` and challenges
  with ``resource="https://0.0.1:PORT"`` (a suffix of "127.0.0.1:PORT"): verification stays
  on, no app change needed. ``*.localhost`` names do not resolve on this machine, so the
  hostname trick is not available. The challenge cache is process-wide per netloc: a test
  that wants the production resource uses its own FakeKeyVault instance (see below).
"""
from __future__ import annotations

import base64
import os
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msal
import pytest
import requests

from tests.fakes import REAL_VAULT_RESOURCE, FakeCloud, FakeKeyVault
from tests.fakes.azurite import clear_storage

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
MAILBOX = "helpdesk@contoso.com"
T0 = datetime(2024, 5, 1, 9, 0, 0, tzinfo=timezone.utc)


def mime(subject: str = "Printer broken", body: str = "It is on fire.\r\n",
         sender: str = "Ann Smith <ann@fabrikam.com>", msgid: str = "<m1@fabrikam.com>") -> bytes:
    return (f"From: {sender}\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
            f"Date: Wed, 01 May 2024 08:59:00 +0000\r\n\r\n{body}").encode()


def msal_app(cloud, app, secret=None):
    return msal.ConfidentialClientApplication(
        app["client_id"], client_credential=secret or app["secret"],
        authority=f"{cloud.authority_host}/{app['tenant_id']}", instance_discovery=False)


@pytest.fixture
def session(cloud, mailbox_app, graph):
    """A requests session with a Graph token from MSAL, and the mailbox created."""
    token = msal_app(cloud, mailbox_app).acquire_token_for_client(GRAPH_SCOPE)["access_token"]
    graph.add_mailbox(MAILBOX)
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    yield s
    s.close()


def messages_url(cloud, folder="inbox"):
    return f"{cloud.graph_url}/users/{MAILBOX}/mailFolders/{folder}/messages"


def error_code(response) -> str:
    return response.json()["error"]["code"]


# -- TLS ------------------------------------------------------------------------------------
def test_ca_bundle_is_installed_for_the_session(cloud):
    assert os.environ["SSL_CERT_FILE"] == cloud.ca_bundle_path
    assert os.environ["REQUESTS_CA_BUNDLE"] == cloud.ca_bundle_path
    bundle = Path(cloud.ca_bundle_path).read_bytes()
    assert bundle.endswith(cloud.ca.cert_pem.bytes())
    assert bundle.count(b"BEGIN CERTIFICATE") > 10  # the system CAs are still there
    url = f"{cloud.authority_host}/common/v2.0/.well-known/openid-configuration"
    assert requests.get(url, timeout=5).status_code == 200
    with urllib.request.urlopen(url, timeout=5) as response:  # stdlib ssl reads SSL_CERT_FILE
        assert response.status == 200


def test_fake_cloud_runs_outside_pytest_without_touching_env(cloud):
    before = os.environ["SSL_CERT_FILE"]
    with FakeCloud(set_ca_env=False) as other:
        assert other.graph_url.startswith("https://localhost:")
        assert other.graph_url.endswith("/v1.0")
        assert other.key_vault_url.startswith("https://127.0.0.1:")
        assert other.ca_env == {"SSL_CERT_FILE": other.ca_bundle_path,
                                "REQUESTS_CA_BUNDLE": other.ca_bundle_path}
        assert os.environ["SSL_CERT_FILE"] == before
        bundle = other.ca_bundle_path
    assert not Path(bundle).exists()


# -- identity platform ------------------------------------------------------------------------
def test_msal_token_works_against_graph(cloud, identity, graph, mailbox_app):
    graph.add_mailbox(MAILBOX)
    app = msal_app(cloud, mailbox_app)
    result = app.acquire_token_for_client(GRAPH_SCOPE)
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3600
    assert identity.validate(result["access_token"], "https://graph.microsoft.com") == (
        "contoso-tenant", "deskmail-app")
    assert app.acquire_token_for_client(GRAPH_SCOPE)["access_token"] == result["access_token"]
    assert identity.token_requests == 1  # the second came from MSAL's cache
    assert [p for _, p, _ in identity.requests] == [
        "/contoso-tenant/v2.0/.well-known/openid-configuration",
        "/contoso-tenant/oauth2/v2.0/token"]
    response = requests.get(messages_url(cloud), timeout=5,
                            headers={"Authorization": f"Bearer {result['access_token']}"})
    assert response.status_code == 200 and response.json()["value"] == []


def test_token_errors(cloud, identity, mailbox_app):
    wrong = msal_app(cloud, mailbox_app, secret="nope").acquire_token_for_client(GRAPH_SCOPE)
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]
    assert wrong["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")

    unknown = msal.ConfidentialClientApplication(
        "someone-else", client_credential="x", instance_discovery=False,
        authority=f"{cloud.authority_host}/contoso-tenant").acquire_token_for_client(GRAPH_SCOPE)
    assert unknown["error"] == "unauthorized_client"
    assert "AADSTS700016" in unknown["error_description"]

    identity.revoke("deskmail-app")
    revoked = msal_app(cloud, mailbox_app).acquire_token_for_client(GRAPH_SCOPE)
    assert revoked["error"] == "unauthorized_client" and revoked["error_codes"] == [65001]
    identity.restore("deskmail-app")
    assert "access_token" in msal_app(cloud, mailbox_app).acquire_token_for_client(GRAPH_SCOPE)

    with pytest.raises(ValueError, match="Unable to get authority configuration"):  # unknown tenant
        msal.ConfidentialClientApplication("deskmail-app", client_credential="x",
                                           authority=f"{cloud.authority_host}/nowhere",
                                           instance_discovery=False)


def test_expired_tokens_are_rejected_by_graph_until_refreshed(cloud, identity, graph, mailbox_app):
    graph.add_mailbox(MAILBOX)
    assert requests.get(messages_url(cloud), timeout=5).json()["error"]["code"] == \
        "InvalidAuthenticationToken"
    app = msal_app(cloud, mailbox_app)
    first = app.acquire_token_for_client(GRAPH_SCOPE)["access_token"]
    identity.expire_all_tokens()
    cached = app.acquire_token_for_client(GRAPH_SCOPE)
    assert cached["access_token"] == first and cached["token_source"] == "cache"
    response = requests.get(messages_url(cloud), headers={"Authorization": f"Bearer {first}"},
                            timeout=5)
    assert response.status_code == 401 and error_code(response) == "InvalidAuthenticationToken"
    assert "expired" in response.json()["error"]["message"]
    app.remove_tokens_for_client()
    fresh = app.acquire_token_for_client(GRAPH_SCOPE)["access_token"]
    assert fresh != first and identity.token_requests == 2
    response = requests.get(messages_url(cloud), headers={"Authorization": f"Bearer {fresh}"},
                            timeout=5)
    assert response.status_code == 200


def test_environment_credential_with_authority_host(cloud, graph, mailbox_app, monkeypatch):
    from azure.identity import EnvironmentCredential

    monkeypatch.setenv("AZURE_AUTHORITY_HOST", cloud.authority_host)
    monkeypatch.setenv("AZURE_TENANT_ID", mailbox_app["tenant_id"])
    monkeypatch.setenv("AZURE_CLIENT_ID", mailbox_app["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", mailbox_app["secret"])
    graph.add_mailbox(MAILBOX)
    with EnvironmentCredential(disable_instance_discovery=True) as credential:
        token = credential.get_token(GRAPH_SCOPE[0]).token
    response = requests.get(messages_url(cloud), headers={"Authorization": f"Bearer {token}"},
                            timeout=5)
    assert response.status_code == 200


# -- Graph ------------------------------------------------------------------------------------
def test_paging_filter_and_orderby(cloud, graph, session):
    ids = [graph.add_message(MAILBOX, mime(subject=f"n{i}", msgid=f"<n{i}@x>"),
                             received=T0 + timedelta(minutes=i), is_read=i % 3 == 0)
           for i in range(12)]
    since = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url, params, seen = messages_url(cloud), {
        "$filter": f"receivedDateTime ge {since} and isRead eq false",
        "$orderby": "receivedDateTime asc", "$top": "3", "$select": "id,subject,isRead"}, []
    while url:
        page = session.get(url, params=params, timeout=5)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(set(m) == {"@odata.etag", "id", "subject", "isRead"} for m in body["value"])
        seen += [m["id"] for m in body["value"]]
        url, params = body.get("@odata.nextLink"), None
        assert url is None or url.startswith(cloud.graph_url) and "skip=" in url
    assert seen == [ids[i] for i in range(2, 12) if i % 3 != 0]
    assert any("and isRead eq false" in r.path for r in graph.requests)  # the log is decoded

    strict = session.get(messages_url(cloud), timeout=5, params={
        "$filter": f"receivedDateTime gt {since}", "$top": "100"})
    assert len(strict.json()["value"]) == 9
    newest_first = session.get(messages_url(cloud), timeout=5).json()["value"]
    assert [m["id"] for m in newest_first] == ids[::-1][:10]  # default: desc, $top 10

    inefficient = session.get(messages_url(cloud), timeout=5, params={
        "$filter": f"isRead eq false and receivedDateTime ge {since}",
        "$orderby": "receivedDateTime asc"})
    assert inefficient.status_code == 400 and error_code(inefficient) == "InefficientFilter"
    missing = session.get(messages_url(cloud), timeout=5, params={
        "$filter": "isRead eq false", "$orderby": "receivedDateTime desc"})
    assert error_code(missing) == "InefficientFilter"
    assert session.get(messages_url(cloud), params={"$top": "1001"}, timeout=5).status_code == 400
    naive = session.get(messages_url(cloud), timeout=5,
                        params={"$filter": "receivedDateTime ge 2024-05-01T09:00:00"})
    assert naive.status_code == 400


def test_folders_by_name_and_id(cloud, graph, session):
    support = graph.add_folder(MAILBOX, "Support")
    graph.add_message(MAILBOX, mime(subject="in support"), folder=support)
    graph.add_message(MAILBOX, mime(subject="in inbox"), folder="Inbox")
    base = f"{cloud.graph_url}/users/{MAILBOX}/mailFolders"
    top = session.get(base, params={"$filter": "displayName eq 'Inbox'"}, timeout=5).json()
    inbox_id = top["value"][0]["id"]
    assert inbox_id == graph.folder_id(MAILBOX, "inbox")
    assert session.get(f"{base}/INBOX", timeout=5).json()["id"] == inbox_id
    children = session.get(f"{base}/{inbox_id}/childFolders", timeout=5,
                           params={"$filter": "displayName eq 'Support'"}).json()["value"]
    assert [c["id"] for c in children] == [support] and children[0]["totalItemCount"] == 1
    in_support = session.get(messages_url(cloud, support), timeout=5).json()["value"]
    assert [m["subject"] for m in in_support] == ["in support"]
    assert in_support[0]["parentFolderId"] == support
    assert session.get(f"{base}/nope", timeout=5).status_code == 404


def test_message_json_and_raw_value(cloud, graph, session):
    raw = (b"From: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@fabrikam.com>\r\nTo: " + MAILBOX.encode()
           + b"\r\nSubject: =?utf-8?q?Caf=C3=A9_down?=\r\nMessage-ID: <cafe@fabrikam.com>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain; charset=latin-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Caf\xe9 machine\r\n--b\r\nContent-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF\r\n--b--\r\n")
    message_id = graph.add_message(MAILBOX, raw)
    assert "-" in message_id and "_" in message_id and "=" in message_id
    value = session.get(f"{cloud.graph_url}/users/{MAILBOX}/messages/{message_id}/$value",
                        timeout=5)
    assert value.status_code == 200 and value.content == raw
    item = session.get(f"{cloud.graph_url}/users/{MAILBOX}/messages/{message_id}",
                       timeout=5).json()
    assert item["subject"] == "Café down" and item["internetMessageId"] == "<cafe@fabrikam.com>"
    assert item["from"] == {"emailAddress": {"name": "Zoë Müller", "address": "zoe@fabrikam.com"}}
    assert item["hasAttachments"] is True and item["isRead"] is False
    assert item["receivedDateTime"].endswith("Z") and item["body"]["content"].startswith("Café")


def test_patch_flips_is_read_and_set_read_is_visible(cloud, graph, session):
    message_id = graph.add_message(MAILBOX, mime())
    url = f"{cloud.graph_url}/users/{MAILBOX}/messages/{message_id}"
    patched = session.patch(url, json={"isRead": True}, timeout=5)
    assert patched.status_code == 200 and patched.json()["isRead"] is True
    assert graph.get_message(MAILBOX, message_id)["isRead"] is True
    graph.set_read(MAILBOX, message_id, False)
    assert session.get(url, timeout=5).json()["isRead"] is False
    assert session.patch(url, json={"isRead": "yes"}, timeout=5).status_code == 400


def test_not_found_errors(cloud, graph, session):
    nobody = session.get(f"{cloud.graph_url}/users/nobody@contoso.com/messages", timeout=5)
    assert nobody.status_code == 404 and error_code(nobody) == "ErrorInvalidUser"
    graph.add_mailbox("onprem@contoso.com", enabled=False)
    onprem = session.get(f"{cloud.graph_url}/users/onprem@contoso.com/messages", timeout=5)
    assert error_code(onprem) == "MailboxNotEnabledForRESTAPI"
    gone = session.get(f"{cloud.graph_url}/users/{MAILBOX}/messages/AAMk-nope_=", timeout=5)
    assert gone.status_code == 404 and error_code(gone) == "ErrorItemNotFound"


def test_prefer_header_is_recorded(cloud, graph, session):
    session.get(messages_url(cloud), headers={"Prefer": 'IdType="ImmutableId"'}, timeout=5)
    assert graph.requests[-1].headers["prefer"] == 'IdType="ImmutableId"'


def test_fail_next_and_hang_next(cloud, graph, session):
    graph.fail_next(429, retry_after=7, path_contains="/messages", method="GET")
    throttled = session.get(messages_url(cloud), timeout=5)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert error_code(throttled) == "TooManyRequests"
    graph.fail_next(503, count=2)
    assert [session.get(messages_url(cloud), timeout=5).status_code for _ in range(3)] == \
        [503, 503, 200]
    graph.hang_next(5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(messages_url(cloud), timeout=0.3)
    assert session.get(messages_url(cloud), timeout=5).status_code == 200
    assert [status for _, _, status in graph.requests] == [429, 503, 503, 200, 200]


def test_concurrency_is_tracked_and_limited(cloud, graph, session):
    graph.hold_until_in_flight(3)  # three at once, by count rather than by latency
    graph.concurrency_limit = 2
    barrier, statuses = threading.Barrier(6), []

    def fetch():
        with requests.Session() as own:
            own.headers.update(session.headers)
            barrier.wait()
            statuses.append(own.get(messages_url(cloud), timeout=5).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert graph.max_concurrency_seen(MAILBOX) >= 3
    assert 429 in statuses and 200 in statuses
    throttled = [r for r in graph.requests if r.status == 429]
    assert throttled


def test_send_mail(cloud, graph, session):
    url = f"{cloud.graph_url}/users/{MAILBOX}/sendMail"
    reply = mime(subject="Re: Printer broken", sender=MAILBOX).replace(
        f"To: {MAILBOX}".encode(), b"To: ann@fabrikam.com")
    sent = session.post(url, data=base64.b64encode(reply),
                        headers={"Content-Type": "text/plain"}, timeout=5)
    assert sent.status_code == 202 and graph.sent == [(MAILBOX, reply)]
    bad = session.post(url, data=b"%%%not base64", headers={"Content-Type": "text/plain"},
                       timeout=5)
    assert bad.status_code == 400 and error_code(bad) == "ErrorMimeContentInvalidBase64String"
    as_json = session.post(url, timeout=5, json={"message": {
        "subject": "Hi", "body": {"contentType": "Text", "content": "hello"},
        "toRecipients": [{"emailAddress": {"address": "bob@fabrikam.com"}}]}})
    assert as_json.status_code == 202 and b"bob@fabrikam.com" in graph.sent[-1].raw


def test_sent_mail_is_filed_in_sent_items_and_found_by_message_id(cloud, graph, session):
    url = f"{cloud.graph_url}/users/{MAILBOX}/sendMail"
    raw = mime(subject="Re: Printer broken", sender=MAILBOX, msgid="<kept.1@contoso.com>")
    assert session.post(url, data=base64.b64encode(raw), timeout=5,
                        headers={"Content-Type": "text/plain"}).status_code == 202
    unsaved = session.post(url, timeout=5, json={"saveToSentItems": False, "message": {
        "subject": "Not kept", "toRecipients": [{"emailAddress": {"address": "b@fabrikam.com"}}]}})
    assert unsaved.status_code == 202 and len(graph.sent) == 2
    [saved] = graph.messages(MAILBOX, "sentitems")  # the MIME send only, read, id kept
    assert (saved["internetMessageId"], saved["isRead"]) == ("<kept.1@contoso.com>", True)

    search = (f"{cloud.graph_url}/users/{MAILBOX}/mailFolders/sentitems/messages?$filter="
              "internetMessageId eq '<kept.1@contoso.com>'&$select=id,internetMessageId")
    found = session.get(search, timeout=5).json()["value"]
    assert found == [{"@odata.etag": found[0]["@odata.etag"], "id": saved["id"],
                      "internetMessageId": "<kept.1@contoso.com>"}]
    assert session.get(search.replace("kept.1", "other"), timeout=5).json()["value"] == []
    bad = session.post(url, timeout=5, json={"saveToSentItems": "no", "message": {
        "toRecipients": [{"emailAddress": {"address": "b@fabrikam.com"}}]}})
    assert bad.status_code == 400


def test_drafts_live_in_the_drafts_folder_until_sent_or_deleted(cloud, graph, session):
    """POST /messages (MIME) makes a draft in Drafts (isDraft true, its Message-ID kept),
    found by $filter; sending it leaves Drafts for Sent Items (isDraft false); DELETE removes
    any message."""
    base = f"{cloud.graph_url}/users/{MAILBOX}"
    raw = mime(subject="Big", sender=MAILBOX, msgid="<big.1@contoso.com>").replace(
        f"To: {MAILBOX}".encode(), b"To: ann@fabrikam.com")
    created = session.post(f"{base}/messages", data=base64.b64encode(raw), timeout=5,
                           headers={"Content-Type": "text/plain"})
    assert created.status_code == 201 and created.json()["isDraft"] is True
    draft_id = created.json()["id"]
    search = (f"{messages_url(cloud, 'drafts')}?$filter=internetMessageId eq '<big.1@contoso.com>'"
              " and isDraft eq true&$select=id,isDraft")
    found = session.get(search, timeout=5).json()["value"]
    assert [(f["id"], f["isDraft"]) for f in found] == [(draft_id, True)]
    assert session.get(search.replace("eq true", "eq false"), timeout=5).json()["value"] == []
    assert session.get(f"{base}/messages/{draft_id}", timeout=5).json()["isDraft"] is True
    assert session.post(f"{base}/messages/{draft_id}/send", timeout=5).status_code == 202
    assert graph.messages(MAILBOX, "drafts") == []
    [filed] = graph.messages(MAILBOX, "sentitems")
    assert (filed["internetMessageId"], filed["isDraft"]) == ("<big.1@contoso.com>", False)
    second = session.post(f"{base}/messages", data=base64.b64encode(raw), timeout=5,
                          headers={"Content-Type": "text/plain"}).json()["id"]
    upload = session.post(f"{base}/messages/{second}/attachments/createUploadSession", timeout=5, json={
        "AttachmentItem": {"attachmentType": "file", "name": "a.bin", "size": 3 * 1024 * 1024}}).json()
    assert session.delete(f"{base}/messages/{second}", timeout=5).status_code == 204
    late = requests.put(upload["uploadUrl"], data=b"x" * 10, timeout=5,
                        headers={"Content-Range": f"bytes 0-9/{3 * 1024 * 1024}"})
    assert late.status_code == 404 and graph.messages(MAILBOX, "drafts") == []
    own = graph.add_message(MAILBOX, mime(msgid="<mine@contoso.com>"), folder="drafts", is_draft=True)
    assert graph.get_message(MAILBOX, own)["isDraft"] is True
    assert session.delete(f"{base}/messages/{filed['id']}", timeout=5).status_code == 204
    gone = session.get(f"{base}/messages/{filed['id']}", timeout=5)
    assert gone.status_code == 404 and error_code(gone) == "ErrorItemNotFound"


# -- Key Vault ----------------------------------------------------------------------------------
def test_key_vault_secret_via_challenge(cloud, keyvault, mailbox_app):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    credential = ClientSecretCredential(
        mailbox_app["tenant_id"], mailbox_app["client_id"], mailbox_app["secret"],
        authority=cloud.authority_host, disable_instance_discovery=True)
    with SecretClient(cloud.key_vault_url, credential) as client:  # verification left on
        assert client.get_secret("deskmail-graph-secret").value == "s3cr3t-value"
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_secret("no-such-secret")
    assert missing.value.error.code == "SecretNotFound"
    statuses = [status for _, _, status in keyvault.requests]
    assert statuses in ([401, 200, 404], [200, 404])  # no 401 if an earlier test cached it


def test_key_vault_production_resource_needs_verification_off(cloud, mailbox_app):
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    # Own instance: the SDK's challenge cache is per process and per vault netloc.
    vault = FakeKeyVault(cloud.tls.server_context(), cloud.identity).start()
    try:
        vault.resource = REAL_VAULT_RESOURCE
        vault.set_secret("s", "v")
        credential = ClientSecretCredential(
            mailbox_app["tenant_id"], mailbox_app["client_id"], mailbox_app["secret"],
            authority=cloud.authority_host, disable_instance_discovery=True)
        with SecretClient(vault.vault_url, credential) as client:
            with pytest.raises(ValueError, match="does not match the requested domain"):
                client.get_secret("s")
        with SecretClient(vault.vault_url, credential, verify_challenge_resource=False) as client:
            assert client.get_secret("s").value == "v"
    finally:
        vault.stop()


# -- Azurite and app fixtures -------------------------------------------------------------------
def test_azurite_with_real_sdks(storage):
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    with TableServiceClient.from_connection_string(storage) as service:
        table = service.create_table("tickets")
        table.create_entity({"PartitionKey": "p", "RowKey": "r", "subject": "hi"})
        assert table.get_entity("p", "r")["subject"] == "hi"
    with BlobServiceClient.from_connection_string(storage) as service:
        service.create_container("raw-mail").upload_blob("a.eml", b"raw")
        assert service.get_blob_client("raw-mail", "a.eml").download_blob().readall() == b"raw"
    with QueueClient.from_connection_string(storage, "inbound") as queue:
        queue.create_queue()
        queue.send_message("hello")
        assert [m.content for m in queue.receive_messages()] == ["hello"]
    clear_storage(storage)
    with TableServiceClient.from_connection_string(storage) as service:
        assert list(service.list_tables()) == []


def test_app_env_and_mailbox_app(app_env, mailbox_app):
    assert os.environ["AzureWebJobsStorage"] == app_env.storage
    assert os.environ["GRAPH_API_URL"] == app_env.cloud.graph_url
    assert os.environ["AZURE_AUTHORITY_HOST"] == app_env.cloud.authority_host
    assert "KEY_VAULT_URL" not in os.environ
    assert os.environ["DESKMAIL_GRAPH_SECRET"] == mailbox_app["secret"] == "s3cr3t-value"
    assert mailbox_app == {"tenant_id": "contoso-tenant", "client_id": "deskmail-app",
                           "client_secret_name": "deskmail-graph-secret", "secret": "s3cr3t-value"}


def test_broken_and_deleted_messages(cloud, graph, session):
    broken = graph.add_message(MAILBOX, mime())
    graph.break_message(MAILBOX, broken, 404, "ErrorItemNotFound")
    url = f"{cloud.graph_url}/users/{MAILBOX}/messages/{broken}"
    for _ in range(2):  # every time, not once
        value = session.get(f"{url}/$value", timeout=5)
        assert value.status_code == 404 and error_code(value) == "ErrorItemNotFound"
    assert session.get(url, timeout=5).status_code == 200  # still there and listed
    listed = session.get(messages_url(cloud), timeout=5).json()["value"]
    assert [m["id"] for m in listed] == [broken]
    graph.repair_message(MAILBOX, broken)
    assert session.get(f"{url}/$value", timeout=5).status_code == 200

    doomed = graph.add_message(MAILBOX, mime(subject="doomed"))
    graph.delete_on_download(MAILBOX, doomed)
    doomed_url = f"{cloud.graph_url}/users/{MAILBOX}/messages/{doomed}"
    assert session.get(f"{doomed_url}/$value", timeout=5).status_code == 404
    assert error_code(session.get(doomed_url, timeout=5)) == "ErrorItemNotFound"
    graph.delete_message(MAILBOX, broken)
    assert session.get(messages_url(cloud), timeout=5).json()["value"] == []
