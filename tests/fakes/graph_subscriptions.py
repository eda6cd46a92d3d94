"""The Graph fake's change-notification subscriptions (graph.py routes `/subscriptions` here).

Like Graph for mail: a subscription watches ``users/{u}/mailFolders('{folder}')/messages`` (or
``users/{u}/messages``) for ``created``; creating one first validates the notificationUrl (a POST
with ``validationToken`` that must be echoed as text/plain within 10 s); a message delivered to
the folder is notified from a background thread, so the test's request never waits on it.
Notifications go over plain urllib (http for 127.0.0.1, or https trusting the test CA).
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from .server import Request, Response, json_response

MAX_MINUTES = 10080
HANDSHAKE_SECONDS = 10
_RESOURCE = re.compile(r"^/?(?:users|Users)/([^/]+)/(?:mailFolders\('?([^')]+)'?\)/)?messages$")


def _error(status: int, code: str, message: str):
    from .graph import GraphError

    return GraphError(status, code, message)


def _post(fake, url: str, body: bytes | None, content_type: str = "application/json"
          ) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body or b"", method="POST",
                                     headers={"Content-Type": content_type})
    context = getattr(fake, "client_ssl_context", None)
    try:
        with urllib.request.urlopen(request, timeout=HANDSHAKE_SECONDS, context=context) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()
    except OSError as error:
        return 0, "", str(error).encode()


def _expiry(text) -> datetime:
    from .graph import _parse_datetime

    if not isinstance(text, str):
        raise _error(400, "InvalidRequest", "expirationDateTime is required.")
    when = _parse_datetime(text)
    now = datetime.now(timezone.utc)
    if when <= now or when > now + timedelta(minutes=MAX_MINUTES):
        raise _error(400, "InvalidRequest", "Subscription expiration can only be 10080 minutes "
                     "in the future.")
    return when


def _json(sub: dict) -> dict:
    return {key: value for key, value in sub.items() if not key.startswith("_")}


def route(fake, request: Request, rest: list[str]) -> Response:
    """`/v1.0/subscriptions[/{id}]` (called with the fake's lock held)."""
    if not rest:
        if request.method == "GET":
            return json_response(200, {"value": [_json(s) for s in fake.subscriptions.values()]})
        fake._require(request.method, "POST")
        return _create(fake, request)
    sub = fake.subscriptions.get(rest[0])
    if sub is None:
        raise _error(404, "ResourceNotFound", "The object was not found.")
    fake._require(request.method, "GET", "PATCH", "DELETE")
    if request.method == "DELETE":
        del fake.subscriptions[rest[0]]
        return Response(204)
    if request.method == "PATCH":
        body = request.json()
        sub["expirationDateTime"] = body.get("expirationDateTime")
        _expiry(sub["expirationDateTime"])
    return json_response(200, _json(sub))


def _create(fake, request: Request) -> Response:
    try:
        body = request.json()
    except ValueError:
        raise _error(400, "BadRequest", "Unable to read JSON request payload.") from None
    resource = str(body.get("resource") or "")
    match = _RESOURCE.match(resource)
    if not match:
        raise _error(400, "InvalidRequest", f"Resource '{resource}' is not supported.")
    box = fake._box(match.group(1))
    folder = fake._folder(box, match.group(2)) if match.group(2) else None
    if body.get("changeType") != "created":
        raise _error(400, "InvalidRequest", "This fake supports changeType 'created' only.")
    _expiry(body.get("expirationDateTime"))
    url = str(body.get("notificationUrl") or "")
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise _error(400, "InvalidRequest", "NotificationUrl must be https.")
    token = secrets.token_urlsafe(24)
    status, kind, echoed = _post(fake, f"{url}{'&' if '?' in url else '?'}validationToken="
                                 f"{quote(token)}", None, "text/plain")
    if status != 200 or not kind.startswith("text/plain") or echoed.decode(errors="replace") != token:
        raise _error(400, "ValidationError", f"Subscription validation request failed. "
                     f"Notification endpoint must respond with 200 OK to validation request "
                     f"(got {status} {kind!r}).")
    sub = {"id": secrets.token_hex(16), "resource": resource, "changeType": "created",
           "notificationUrl": url, "expirationDateTime": body["expirationDateTime"],
           "clientState": body.get("clientState"),
           "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
           "_mailbox": box.address.lower(), "_folder": folder.id if folder else None}
    fake.subscriptions[sub["id"]] = sub
    return json_response(201, _json(sub))


def matching(fake, box, folder) -> list[dict]:
    """Subscriptions a message delivered to `folder` of `box` notifies (lock held)."""
    return [dict(s) for s in fake.subscriptions.values()
            if s["_mailbox"] == box.address.lower() and s["_folder"] in (None, folder.id)]


def _deliver(fake, url: str, payload: dict) -> None:
    status, _, detail = _post(fake, url, json.dumps(payload).encode())
    with fake._lock:
        if 200 <= status < 300:
            fake.push_delivered += 1
        else:
            fake.push_failures.append(f"{status} {detail[:200]!r}")
        fake._recorded.notify_all()


def wait_for_push(fake, count: int, timeout: float = 30) -> bool:
    """Until `count` notifications were answered (2xx or not); False if `timeout` passed."""
    with fake._lock:
        return fake._recorded.wait_for(
            lambda: fake.push_delivered + len(fake.push_failures) >= count, timeout)


def notify_created(fake, subs: list[dict], box, message_id: str) -> None:
    for sub in subs:
        payload = {"value": [{
            "subscriptionId": sub["id"], "clientState": sub["clientState"],
            "changeType": "created", "tenantId": "fake-tenant",
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "resource": f"Users/{box.address}/Messages/{message_id}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": message_id}}]}
        threading.Thread(target=_deliver, args=(fake, sub["notificationUrl"], payload),
                         daemon=True, name="graph-push").start()


def notify_lifecycle(fake, subscription_id: str, event: str) -> None:
    with fake._lock:
        sub = dict(fake.subscriptions[subscription_id])
        if event == "subscriptionRemoved":
            del fake.subscriptions[subscription_id]
    url = sub.get("lifecycleNotificationUrl") or sub["notificationUrl"]
    _deliver(fake, url, {"value": [{
        "subscriptionId": sub["id"], "clientState": sub["clientState"],
        "lifecycleEvent": event, "tenantId": "fake-tenant",
        "subscriptionExpirationDateTime": sub["expirationDateTime"]}]})
