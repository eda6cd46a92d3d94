"""The monitor timer: fetch incidents and secret expiry warnings (services/monitor.py)."""
import logging

import azure.functions as func

blueprint = func.Blueprint()
log = logging.getLogger("deskmail.functions")


@blueprint.function_name("monitor")
@blueprint.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False,
                         use_monitor=True)
def monitor(timer: func.TimerRequest) -> None:
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.monitor import run_monitor

    report = run_monitor(Helpdesk.from_env())
    log.info("monitor: %d accounts checked, %d open incidents, %d secrets checked",
             len(report.accounts), len(report.incidents), len(report.secrets))
    for note in report.notes:
        log.warning("monitor: %s", note)
