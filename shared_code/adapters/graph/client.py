"""GraphMailClient: Graph mail operations on one mailbox.

One `requests.Session` per client, at most `settings.graph_max_concurrency` requests in flight
(Graph allows 4 per app and mailbox), header `Prefer: IdType="ImmutableId"` on every request,
connect/read timeouts on every request. 429, 5xx and connection failures are retried up to
`settings.graph_max_retries` times, waiting `Retry-After` when given, else 1, 2, 4 ... s (capped at
30 s, with jitter), and never starting a wait that would end after the client's deadline. A 401
drops the refused token (auth.py) and the request is retried once.

requests is imported on first use, not here.
"""
from __future__ import annotations

import base64
import random
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote, urlsplit

from .auth import DEFAULT_TIMEOUT, TokenProvider, _authority
from .errors import GraphAuthError, GraphError
from .messages import MESSAGE_FIELDS, GraphMessageRef, _strip_brackets, format_graph_datetime

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Settings
    from ...domain.model import EmailAccount

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0

#: Well-known folder names accepted as they are (Graph treats them case-insensitively).
WELL_KNOWN_FOLDERS = {
    name.lower(): name.lower()
    for name in ("Inbox", "Archive", "JunkEmail", "SentItems", "DeletedItems", "Drafts")
}


def _odata_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _query(params: dict[str, Any]) -> str:
    # keep `$`, `,`, `:` and quotes readable; spaces become %20 as Graph expects
    return "&".join(f"{key}={quote(str(value), safe=chr(39) + '$,:()')}"
                    for key, value in params.items())


def _seg(value: str) -> str:
    return quote(value, safe="")


class GraphMailClient:
    """Graph mail operations on one mailbox (`account.address`), safe to share between threads."""

    def __init__(self, settings: "Settings", account: "EmailAccount", client_secret: str,
                 deadline: float | None = None, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 backoff_base: float = BACKOFF_BASE, backoff_cap: float = BACKOFF_CAP,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """`deadline` is a `clock()` reading; `clock` and `sleep` are parameters so that tests
        drive the retry waits with a controlled clock instead of the wall clock."""
        import requests
        from requests.adapters import HTTPAdapter

        self.settings = settings
        self.account = account
        self.address = account.address
        self.deadline = deadline
        self.clock, self.sleep = clock, sleep
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retries = int(settings.graph_max_retries)
        self.max_concurrency = max(1, int(settings.graph_max_concurrency))
        self.base_url = settings.graph_api_url.rstrip("/")
        self.mailbox_url = f"{self.base_url}/users/{_seg(account.address)}"
        self._origin = _origin(self.base_url)
        if not account.tenant_id or not account.client_id:
            raise GraphAuthError(None, "MissingCredentials",
                                 f"account {account.address} has no tenant id or client id")
        self.tokens = TokenProvider(_authority(settings, account.tenant_id), account.client_id,
                                    client_secret, timeout=timeout)
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.max_concurrency + 2,
                              max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({
            "Prefer": 'IdType="ImmutableId"',
            "Accept": "application/json",
            "User-Agent": "deskmail",
        })
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._count_lock = threading.Lock()
        self.request_count = 0
        self._folders: dict[str, str] = {}
        self._folders_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GraphMailClient(mailbox={self.address!r}, client_id={self.tokens.client_id!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "GraphMailClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- folders --------------------------------------------------------------------------------
    def resolve_folder(self, folder: str) -> str:
        """A folder id (or well-known name) for "Inbox", "Support", "Inbox/Support" ..."""
        key = (folder or "").strip().strip("/")
        if not key:
            raise GraphError(None, "FolderNotFound", "folder name is empty")
        with self._folders_lock:
            cached = self._folders.get(key.lower())
        if cached:
            return cached
        parts = [part.strip() for part in key.split("/") if part.strip()]
        first = parts[0]
        if first.lower() in WELL_KNOWN_FOLDERS:
            current = WELL_KNOWN_FOLDERS[first.lower()]
        else:
            current = (self._find_folder(f"{self.mailbox_url}/mailFolders", first)
                       or (self._find_folder(f"{self.mailbox_url}/mailFolders/inbox/childFolders",
                                             first) if len(parts) == 1 else None))
            if current is None:
                raise self._folder_not_found(key, first, "the mailbox's top level"
                                             + (" or under Inbox" if len(parts) == 1 else ""))
        walked = [first]
        for part in parts[1:]:
            child = self._find_folder(f"{self.mailbox_url}/mailFolders/{_seg(current)}/childFolders",
                                      part)
            if child is None:
                raise self._folder_not_found(key, part, "/".join(walked))
            walked.append(part)
            current = child
        with self._folders_lock:
            self._folders[key.lower()] = current
        return current

    def _find_folder(self, url: str, display_name: str) -> str | None:
        query = _query({"$filter": f"displayName eq {_odata_string(display_name)}"})
        payload = self._request("GET", f"{url}?{query}").json()
        for item in payload.get("value") or []:
            if str(item.get("displayName", "")).lower() == display_name.lower():
                return item["id"]
        return None

    def _folder_not_found(self, path: str, name: str, where: str) -> GraphError:
        return GraphError(404, "FolderNotFound",
                          f"mailbox {self.address} has no folder {name!r} in {where} "
                          f"(looking for {path!r})")

    # -- messages -------------------------------------------------------------------------------
    def list_messages(self, folder_id: str, since: datetime, top: int = 50
                      ) -> Iterator[GraphMessageRef]:
        """Messages that arrived in the folder or changed at or after `since`, by last change,
        oldest first, page by page (lazily). Listing by change time rather than received time
        also finds mail moved into the folder later (Junk → Inbox, restored from Deleted Items)."""
        top = max(1, min(int(top), 1000))
        query = _query({
            "$filter": f"lastModifiedDateTime ge {format_graph_datetime(since)}",
            "$orderby": "lastModifiedDateTime asc",
            "$top": top,
            "$select": MESSAGE_FIELDS,
        })
        yield from self._pages(f"{self.mailbox_url}/mailFolders/{_seg(folder_id)}/messages?{query}")

    def list_received(self, folder_id: str, start: datetime, end: datetime, top: int = 100
                      ) -> Iterator[GraphMessageRef]:
        """Messages of the folder received in [start, end), oldest first, page by page: what
        the reconciliation compares with the ledger (services/reconcile.py)."""
        top = max(1, min(int(top), 1000))
        query = _query({
            "$filter": (f"receivedDateTime ge {format_graph_datetime(start)} and "
                        f"receivedDateTime lt {format_graph_datetime(end)}"),
            "$orderby": "receivedDateTime asc",
            "$top": top,
            "$select": MESSAGE_FIELDS,
        })
        yield from self._pages(f"{self.mailbox_url}/mailFolders/{_seg(folder_id)}/messages?{query}")

    def _pages(self, url: str | None) -> Iterator[GraphMessageRef]:
        """The refs of a listing, following its next links (on Graph's own host only)."""
        while url:
            payload = self._request("GET", url).json()
            for item in payload.get("value") or []:
                yield GraphMessageRef.from_graph(item)
            url = payload.get("@odata.nextLink")
            if url and _origin(url) != self._origin:
                raise GraphError(None, "UnexpectedNextLink",
                                 f"Graph returned a next link to another host ({_origin(url)})")

    def get_mime(self, message_id: str) -> bytes:
        """The raw RFC 5322 message."""
        return self._request("GET", f"{self.mailbox_url}/messages/{_seg(message_id)}/$value",
                             accept="*/*").content

    def message_exists(self, message_id: str) -> bool:
        """Whether the message is still in the mailbox (in any folder): a small read of its id.
        False only for Graph's 404 ErrorItemNotFound; other failures raise."""
        try:
            self._request("GET", f"{self.mailbox_url}/messages/{_seg(message_id)}?$select=id")
        except GraphError as error:
            if error.status == 404 and error.code == "ErrorItemNotFound":
                return False
            raise
        return True

    def mark_read(self, message_id: str) -> None:
        self._request("PATCH", f"{self.mailbox_url}/messages/{_seg(message_id)}",
                      json={"isRead": True})

    def send_mime(self, raw: bytes) -> None:
        """Send a whole RFC 5322 message as this mailbox (Graph answers 202: accepted).

        The MIME form has no saveToSentItems switch: Graph documents that it saves the message
        in Sent Items, which `find_sent` relies on to tell whether an earlier attempt went out.
        Not retried after a timeout or a 500/502/504: the mail may have been accepted.
        """
        self._request("POST", f"{self.mailbox_url}/sendMail",
                      data=base64.b64encode(raw), content_type="text/plain",
                      idempotent=False)

    def send_large(self, draft_mime: bytes, files: list[tuple[str, str, bytes]]) -> None:
        """Mail over the 4 MB request limit: a draft, its attachments, then send (large_send.py)."""
        from .large_send import send_large

        send_large(self, draft_mime, files)

    def find_sent(self, internet_message_id: str) -> str | None:
        """The Graph id of the message with this Message-ID in the mailbox's Sent Items, or
        None. Exchange is assumed to keep the Message-ID a MIME send supplies (unconfirmed:
        see docs/outbound.md, "Sent Items check"); if it did not, this finds nothing and the
        caller sends again, which is the behaviour without the check."""
        wanted = f"<{internet_message_id.strip().strip('<>')}>"
        query = _query({"$filter": f"internetMessageId eq {_odata_string(wanted)}",
                        "$select": "id,internetMessageId", "$top": 1})
        payload = self._request("GET", f"{self.mailbox_url}/mailFolders/sentitems/messages?"
                                f"{query}").json()
        for item in payload.get("value") or []:
            if _strip_brackets(item.get("internetMessageId")) == wanted[1:-1]:
                return item.get("id")
        return None

    # -- change notifications -------------------------------------------------------------------
    def create_subscription(self, folder_id: str, notification_url: str, expires: datetime,
                            client_state: str) -> dict:
        """Subscribe to mail created in the folder. Graph validates `notification_url` (the
        handshake) before it answers 201; the answer holds the subscription's id."""
        body = {"changeType": "created", "notificationUrl": notification_url,
                "lifecycleNotificationUrl": notification_url,
                "resource": f"users/{self.address}/mailFolders('{folder_id}')/messages",
                "expirationDateTime": format_graph_datetime(expires),
                "clientState": client_state}
        return self._request("POST", f"{self.base_url}/subscriptions", json=body,
                             idempotent=False).json()

    def renew_subscription(self, subscription_id: str, expires: datetime) -> dict:
        return self._request("PATCH", f"{self.base_url}/subscriptions/{_seg(subscription_id)}",
                             json={"expirationDateTime": format_graph_datetime(expires)}).json()

    def delete_subscription(self, subscription_id: str) -> None:
        """Remove a subscription; one Graph no longer has (404) is already gone."""
        try:
            self._request("DELETE", f"{self.base_url}/subscriptions/{_seg(subscription_id)}")
        except GraphError as error:
            if error.status != 404:
                raise

    # -- the app registration -------------------------------------------------------------------
    def password_credentials(self) -> list[dict]:
        """The password credentials (keyId, displayName, endDateTime) of this client's own app
        registration. Needs the application permission Application.Read.All, which deskmail
        does not ask for: without it Graph answers 403 (a GraphError the caller may skip)."""
        app = f"applications(appId={_odata_string(self.tokens.client_id)})"
        payload = self._request("GET", f"{self.base_url}/{app}?"
                                f"{_query({'$select': 'passwordCredentials'})}").json()
        return [c for c in payload.get("passwordCredentials") or [] if isinstance(c, dict)]

    # -- plumbing -------------------------------------------------------------------------------
    def _request(self, method: str, url: str, *, json: Any = None, data: bytes | None = None,
                 content_type: str | None = None, accept: str | None = None,
                 idempotent: bool = True):
        import requests

        retries = 0
        auth_retried = False
        while True:
            token = self.tokens.token()
            headers = {"Authorization": f"Bearer {token}",
                       "client-request-id": _request_id()}
            if content_type:
                headers["Content-Type"] = content_type
            if accept:
                headers["Accept"] = accept
            response = None
            failure: Exception | None = None
            with self._slots:
                with self._count_lock:
                    self.request_count += 1
                try:
                    response = self._session.request(method, url, headers=headers, json=json,
                                                     data=data, timeout=self.timeout)
                except requests.exceptions.ConnectTimeout as error:
                    failure = error  # never reached the server: always safe to retry
                except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                        requests.exceptions.ChunkedEncodingError) as error:
                    failure = error
                    if not idempotent:
                        raise self._connection_error(method, url, error, retries) from None

            if response is not None:
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and not auth_retried:
                    auth_retried = True
                    self.tokens.invalidate(token)
                    continue
                if status == 401:
                    raise self._http_error(response, auth=True)
                retryable = status == 429 or status == 503 or (status >= 500 and idempotent)
                if not retryable:
                    raise self._http_error(response)
                if retries >= self.max_retries:
                    raise self._http_error(response, retries=retries)
                delay = _retry_after(response)
                last = self._http_error(response)
                if delay is None:
                    delay = _backoff(retries, self.backoff_base, self.backoff_cap)
            else:
                if retries >= self.max_retries:
                    raise self._connection_error(method, url, failure, retries)
                delay = _backoff(retries, self.backoff_base, self.backoff_cap)
                last = self._connection_error(method, url, failure, retries)

            if self.deadline is not None and self.clock() + delay > self.deadline:
                raise GraphError(last.status, "DeadlineExceeded",
                                 f"{method} {self._path(url)}: not waiting {delay:.1f}s to retry "
                                 f"after {last.code}, the run's deadline comes first",
                                 request_id=last.request_id, retry_after=last.retry_after)
            self.sleep(delay)
            retries += 1

    def _path(self, url: str) -> str:
        return urlsplit(url).path.removeprefix(urlsplit(self.base_url).path) or "/"

    def _http_error(self, response, *, auth: bool = False, retries: int = 0) -> GraphError:
        code, message = f"HTTP{response.status_code}", response.reason or ""
        try:
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                code = str(error.get("code") or code)
                message = str(error.get("message") or message)
        except ValueError:
            pass
        method = response.request.method if response.request is not None else ""
        message = f"{method} {self._path(response.url)}: {message}"
        if retries:
            message += f" (after {retries} retries)"
        request_id = response.headers.get("request-id")
        if auth:
            return GraphAuthError(response.status_code, code, message, request_id=request_id)
        retry_after = _retry_after(response) if response.status_code in (429, 503) else None
        return GraphError(response.status_code, code, message, request_id=request_id,
                          retry_after=retry_after)

    def _connection_error(self, method: str, url: str, error: Exception | None,
                          retries: int) -> GraphError:
        kind = type(error).__name__ if error is not None else "ConnectionError"
        text = f"{method} {self._path(url)}: {kind}"
        if retries:
            text += f" (after {retries} retries)"
        code = "Timeout" if "Timeout" in kind else "ConnectionError"
        return GraphError(None, code, text)


def _request_id() -> str:
    """A random UUID for Graph's client-request-id header (Graph echoes it; support asks for it)."""
    import uuid

    return str(uuid.uuid4())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _backoff(retries: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """base * 2**retries (1, 2, 4, 8 ... s) with up to 25% jitter either way, capped."""
    return min(cap, base * (2 ** min(retries, 16)) * random.uniform(0.75, 1.25))


def _retry_after(response) -> float | None:
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # an HTTP date: rare, so imported here

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
