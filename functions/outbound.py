"""Outbound mail triggers.

`send_notification` (queue `outbound-mail`) sends the notifications of one message (one
notification, or a batch of one ticket's, see services/send.py); a raised error makes the
host release it (host.json visibilityTimeout: back in 30 s). The app counts real failures and
moves a notification to `outbound-mail-poison` itself after five; host.json's maxDequeueCount
is only a far-off backstop, since deferrals raise the dequeue count too. A notification that
must wait (pacing, Graph throttling, a busy lease) hides this same message again with its id
and pop receipt and the invocation succeeds (the host's delete then fails harmlessly).
`record_failed_notification` (the poison queue) marks it failed.
`enqueue_notification` (HTTP POST /api/notifications, function key) queues a templated
notification for a ticket and answers 202 with its id; an idempotency key (`Idempotency-Key`
header or `id` field) makes a retried request queue nothing more and get the first answer.
"""
import json
import logging

import azure.functions as func

from shared_code.adapters.names import OUTBOUND_MAIL, OUTBOUND_POISON

blueprint = func.Blueprint()
log = logging.getLogger("deskmail.functions")


def _json(message: func.QueueMessage):
    try:
        return json.loads(message.get_body().decode("utf-8"))
    except ValueError:  # not JSON: refused as an invalid notification, not retried
        return None


@blueprint.function_name("send_notification")
@blueprint.queue_trigger(arg_name="msg", queue_name=OUTBOUND_MAIL, connection="AzureWebJobsStorage")
def send_notification(msg: func.QueueMessage) -> None:
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.outbound_queue import handle_queue_message

    results = handle_queue_message(Helpdesk.from_env(), _json(msg), msg.dequeue_count or 1,
                                   message_id=msg.id or "", pop_receipt=msg.pop_receipt or "")
    for result in results:
        log.info("notification %s (%s): %s %s", result.id, result.template, result.outcome,
                 result.reason)


@blueprint.function_name("record_failed_notification")
@blueprint.queue_trigger(arg_name="msg", queue_name=OUTBOUND_POISON,
                         connection="AzureWebJobsStorage")
def record_failed_notification(msg: func.QueueMessage) -> None:
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.outbound_queue import record_poison

    notification = _json(msg)
    record_poison(Helpdesk.from_env(), notification if isinstance(notification, dict) else {})


def _answer(status: int, payload: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@blueprint.function_name("enqueue_notification")
@blueprint.route(route="api/notifications", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def enqueue_notification(req: func.HttpRequest) -> func.HttpResponse:
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.notification_requests import submit

    try:
        body = req.get_json()
    except ValueError:
        return _answer(400, {"error": "the request body must be JSON"})
    answer = submit(Helpdesk.from_env(), body, req.headers.get("Idempotency-Key"))
    return _answer(answer.status, answer.payload)
