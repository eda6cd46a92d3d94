"""Ticket timers: the SLA check that sends Overdue Alerts."""
import logging

import azure.functions as func

blueprint = func.Blueprint()
log = logging.getLogger("deskmail.functions")


@blueprint.function_name("check_overdue")
@blueprint.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False,
                         use_monitor=True)
def check_overdue(timer: func.TimerRequest) -> None:
    from shared_code.services.actions import check_overdue as run_check
    from shared_code.services.helpdesk import Helpdesk

    alerted = run_check(Helpdesk.from_env())
    log.info("overdue alerts queued for %d tickets", len(alerted))
