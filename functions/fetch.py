"""Inbound mail triggers.

`fetch_mail` (timer, every minute) fans out one job per account onto the
`fetch-jobs` queue; `fetch_mailbox` (queue) fetches one account, so Functions
instances fetch mailboxes in parallel and a slow one delays no other.
"""
import json
import logging

import azure.functions as func

from shared_code.adapters.names import FETCH_JOBS, FETCH_POISON

blueprint = func.Blueprint()
log = logging.getLogger("deskmail.functions")
#: A fetch job received more often than this goes to `fetch-jobs-poison` (the next minute's
#: job replaces it anyway).
FETCH_JOB_MAX_DEQUEUE = 5


@blueprint.function_name("fetch_mail")
@blueprint.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=False,
                         use_monitor=True)
def fetch_mail(timer: func.TimerRequest) -> None:
    from shared_code.services.fetch import enqueue_fetch_jobs
    from shared_code.services.helpdesk import Helpdesk

    if timer.past_due:
        log.warning("fetch_mail is running late")
    count = enqueue_fetch_jobs(Helpdesk.from_env())
    log.info("queued %d mailbox fetch jobs", count)


@blueprint.function_name("fetch_mailbox")
@blueprint.queue_trigger(arg_name="job", queue_name=FETCH_JOBS, connection="AzureWebJobsStorage")
def fetch_mailbox(job: func.QueueMessage) -> None:
    from shared_code.services.fetch import run_fetch_job
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    body = json.loads(job.get_body().decode("utf-8"))
    if (job.dequeue_count or 1) > FETCH_JOB_MAX_DEQUEUE:
        # host.json's maxDequeueCount is high for outbound deferrals (docs/outbound.md)
        desk.queues.send(FETCH_POISON, body)
        log.error("fetch job %s failed %d times; moved to %s", body,
                  FETCH_JOB_MAX_DEQUEUE, FETCH_POISON)
        return
    summary = run_fetch_job(desk, body)
    log.info("fetched %s: %s", summary.address, summary.as_dict())


@blueprint.function_name("renew_subscriptions")
@blueprint.timer_trigger(schedule="0 40 * * * *", arg_name="timer", run_on_startup=True,
                         use_monitor=True)
def renew_subscriptions(timer: func.TimerRequest) -> None:
    """Hourly: create, renew (expiring within a day) or delete the Graph push subscriptions
    (services/subscriptions.py); also at start-up, so a new deployment subscribes at once."""
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.subscriptions import sync_subscriptions

    report = sync_subscriptions(Helpdesk.from_env())
    log.info("push subscriptions: %d created, %d renewed, %d deleted, %d errors",
             len(report.created), len(report.renewed), len(report.deleted), len(report.errors))
    for error in report.errors:
        log.error("push subscription: %s", error)
