"""The monitor timers: fetch incidents and secret expiry warnings every 5 minutes, the
reconciliation of mailboxes against the ledger every hour (services/monitor.py)."""
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


@blueprint.function_name("reconcile_mail")
@blueprint.timer_trigger(schedule="0 20 * * * *", arg_name="timer", run_on_startup=False,
                         use_monitor=True)
def reconcile_mail(timer: func.TimerRequest) -> None:
    """Hourly: yesterday's and today's mail of every fetched account against the ledger; mail
    no run took is logged and mailed to the alert recipients once (services/monitor.py)."""
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.monitor import run_reconciliation

    results = run_reconciliation(Helpdesk.from_env())
    lost = sum(len(r.unaccounted) for r in results)
    log.info("reconciliation: %d account-days, %d mails unaccounted for", len(results), lost)
