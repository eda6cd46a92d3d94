"""A monitor alert that failed for good, for the integration and web tests of issue 10's
failed system mail: an Alert account, the Support department alerting oncall@, the monitor run
ten minutes after support@ was added (never fetched: one fetch alert), and sendMail refused
(400 ErrorInvalidRecipients) on all five attempts, so the poison trigger recorded it."""
from __future__ import annotations

from datetime import timedelta

from shared_code.domain.model import Department
from shared_code.services.monitor import run_monitor
from shared_code.services.outbound_queue import drain_outbound, failed_notifications

from .helpers import SUPPORT, run_cli

ALERT = "alerts@contoso.example"
ONCALL = "oncall@contoso.example"


def add_alert_account(desk, oauth: dict, graph) -> None:
    """alerts@ (purpose alert, not fetched) and the Support department alerting oncall@."""
    graph.add_mailbox(ALERT)
    code, _ = run_cli("emails", "add", "--address", ALERT, "--name", "alerts", "--purpose", "alert",
                      "--department", "Support", "--tenant-id", oauth["tenant_id"],
                      "--client-id", oauth["client_id"],
                      "--client-secret-name", oauth["client_secret_name"], "--no-fetch-enabled")
    assert code == 0
    if desk.directory.get_department("Support") is None:
        desk.directory.add_department(Department("Support", email=SUPPORT, alert_recipients=[ONCALL]))


def poison_a_monitor_alert(desk, oauth: dict, graph) -> dict:
    """The failed row (as `failed_notifications` lists it) of the alert about support@."""
    add_alert_account(desk, oauth, graph)
    run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    graph.fail_next(400, count=5, path_contains="sendMail", method="POST",
                    code="ErrorInvalidRecipients")
    results = drain_outbound(desk, release_after=0)
    assert [r.outcome for r in results] == ["failed"] * 5 and graph.sent == []
    [row] = [r for r in failed_notifications(desk) if r["type"] == "system_mail"]
    return row
