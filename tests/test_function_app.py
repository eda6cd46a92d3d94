"""The Functions host indexes what function_app registers: names, triggers, schedule, queues,
the web app's catch-all route. (Calling the web app the host's way: tests/web/test_web_server.py.)"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _indexed():
    """A fresh function_app (an app object may be indexed only once, as the host does)."""
    sys.modules.pop("function_app", None)
    import function_app

    return {f.get_function_name(): f for f in function_app.app.get_functions()}


def test_functions_are_indexed_with_their_triggers():
    functions = _indexed()
    assert set(functions) == {"fetch_mail", "fetch_mailbox", "check_overdue", "send_notification",
                              "record_failed_notification", "enqueue_notification", "http_app_func",
                              "monitor", "reconcile_mail", "renew_subscriptions"}

    timer = functions["fetch_mail"].get_trigger().get_dict_repr()
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "0 */1 * * * *"
    assert timer["runOnStartup"] is False
    assert timer["useMonitor"] is True

    overdue = functions["check_overdue"].get_trigger().get_dict_repr()
    assert (overdue["type"], overdue["schedule"]) == ("timerTrigger", "0 */5 * * * *")

    monitor = functions["monitor"].get_trigger().get_dict_repr()
    assert (monitor["type"], monitor["schedule"], monitor["runOnStartup"]) == (
        "timerTrigger", "0 */5 * * * *", False)
    reconcile = functions["reconcile_mail"].get_trigger().get_dict_repr()
    assert (reconcile["type"], reconcile["schedule"], reconcile["runOnStartup"]) == (
        "timerTrigger", "0 20 * * * *", False)

    renew = functions["renew_subscriptions"].get_trigger().get_dict_repr()
    assert (renew["type"], renew["schedule"], renew["runOnStartup"]) == (
        "timerTrigger", "0 40 * * * *", True)

    queue = functions["fetch_mailbox"].get_trigger().get_dict_repr()
    assert queue["type"] == "queueTrigger"
    assert queue["queueName"] == "fetch-jobs"
    assert queue["connection"] == "AzureWebJobsStorage"

    for name, queue_name in (("send_notification", "outbound-mail"),
                             ("record_failed_notification", "outbound-mail-poison")):
        trigger = functions[name].get_trigger().get_dict_repr()
        assert (trigger["type"], trigger["queueName"], trigger["connection"]) == (
            "queueTrigger", queue_name, "AzureWebJobsStorage")

    http = functions["enqueue_notification"].get_trigger().get_dict_repr()
    assert http["type"] == "httpTrigger"
    # routePrefix is "" (host.json), so the route carries the public path /api/notifications
    assert http["route"] == "api/notifications"
    assert [str(m.value) for m in http["methods"]] == ["POST"]
    assert http["authLevel"].value == "function"


def test_the_web_app_takes_every_other_path_anonymously_as_asgi():
    web = _indexed()["http_app_func"]
    trigger = web.get_trigger().get_dict_repr()
    assert (trigger["type"], trigger["route"]) == ("httpTrigger", "/{*route}")
    assert trigger["authLevel"].value == "anonymous"  # Easy Auth and the app's roles decide
    assert {m.value for m in trigger["methods"]} >= {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert web.http_type == "asgi"
    assert web.is_http_function()


def test_importing_the_app_creates_no_clients():
    """Cold start: importing function_app (and indexing it, as the host does) imports neither
    the Azure SDKs or MSAL nor the web framework: the timer and queue functions stay light."""
    code = (
        "import sys, function_app\n"
        "function_app.app.get_functions()\n"
        "heavy = [m for m in ('msal', 'azure.data.tables', 'azure.storage.blob', "
        "'azure.storage.queue', 'azure.identity', 'azure.keyvault.secrets', 'fastapi', "
        "'starlette', 'jinja2', 'pydantic', 'uvicorn', 'multipart', 'python_multipart', "
        "'shared_code.web.app') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_host_json_uses_the_v4_extension_bundle():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"


def test_host_json_adds_no_route_prefix():
    """The same paths locally and in Azure: no hidden /api before the web app's routes."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == ""


def test_local_settings_sample_lists_every_setting_documented():
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name in sample:
        assert f"`{name}`" in doc, f"{name} is not explained in docs/configuration.md"
