"""The composition root (issue 7 §3): services/helpdesk.py's `Helpdesk` builds every adapter.

Services, pipeline rules, the CLI and the triggers take their adapters from a `Helpdesk`
(`desk.deliveries`, `desk.counters`, `desk.templates`, `desk.mail_client(account)`, ...), so
how an adapter is built (its connection, its secret, its cache) is decided in one place.
The first tests read the source (ast); the last builds a real Graph client through the root.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared_code"
COMPOSITION_ROOT = PACKAGE / "services" / "helpdesk.py"
#: adapters built outside the connection pattern (no `connection` parameter)
OTHER_ADAPTERS = {"GraphMailClient", "SecretStore", "StorageConnection"}


def _adapter_classes() -> set[str]:
    """Classes of shared_code/adapters whose __init__ takes a storage connection, plus the
    Graph client, the secret store and the connection itself (`_Table`, the repositories'
    private building block, excepted)."""
    found = set(OTHER_ADAPTERS)
    for path in (PACKAGE / "adapters").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for item in node.body:
                    if (isinstance(item, ast.FunctionDef) and item.name == "__init__"
                            and "connection" in {a.arg for a in item.args.args}):
                        found.add(node.name)
    return found


def _constructions(path: Path, classes: set[str]) -> list[str]:
    """`Class(...)` or `module.Class(...)` calls of the given classes, as "line Class"."""
    out = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name in classes:
                out.append(f"{node.lineno} {name}")
    return out


def test_the_adapter_classes_are_found():
    classes = _adapter_classes()
    assert {"Deliveries", "SendCounters", "TemplateStore", "IdempotencyKeys", "TicketStore",
            "IngestLedger", "AccountRepository", "BlobStore", "QueueSender"} <= classes
    assert "_Table" not in classes


def test_no_module_outside_the_root_constructs_an_adapter():
    classes = _adapter_classes()
    files = [ROOT / "function_app.py", *sorted((ROOT / "functions").rglob("*.py")),
             *sorted(PACKAGE.rglob("*.py"))]
    built = [f"{path.relative_to(ROOT)}:{line}" for path in files if path != COMPOSITION_ROOT
             for line in _constructions(path, classes)]
    assert built == [], "take these from the Helpdesk (services/helpdesk.py)"


def test_the_root_builds_each_adapter():
    built = {line.split(" ", 1)[1] for line in _constructions(COMPOSITION_ROOT, _adapter_classes())}
    assert _adapter_classes() <= built


def test_the_scan_sees_a_construction_by_name_and_by_attribute(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("a = Deliveries(c)\nb = x.SendCounters(c)\nc = Other(c)\n")
    assert _constructions(module, {"Deliveries", "SendCounters"}) == [
        "1 Deliveries", "2 SendCounters"]


def test_process_caches_are_reset_from_one_place():
    """tests/conftest.py resets the process-wide caches with the root's one function."""
    conftest = (ROOT / "tests" / "conftest.py").read_text("utf-8")
    assert "reset_process_caches()" in conftest
    for piecemeal in ("forget_created_resources", "forget_shared_directories",
                      "clear_token_cache"):
        assert piecemeal not in conftest, piecemeal


def test_reset_process_caches_forgets_the_secret_stores(app_env):
    from shared_code.services.helpdesk import Helpdesk, reset_process_caches

    first = Helpdesk.from_env().secrets
    assert Helpdesk.from_env().secrets is first  # one per process and vault...
    reset_process_caches()
    assert Helpdesk.from_env().secrets is not first  # ...until the reset


def test_the_root_builds_graph_clients_with_the_accounts_secret(app_env, mailbox_app, graph):
    """`desk.mail_client` reads the account's secret and passes deadline and clock on."""
    from shared_code.domain.model import EmailAccount
    from shared_code.services.helpdesk import Helpdesk

    graph.add_mailbox("support@contoso.example")
    account = EmailAccount(address="support@contoso.example", name="Support", purpose="department",
                           department="Support",
                           tenant_id=mailbox_app["tenant_id"], client_id=mailbox_app["client_id"],
                           client_secret_name=mailbox_app["client_secret_name"])
    ticks = iter(range(1000))
    clock = lambda: float(next(ticks))  # noqa: E731
    desk = Helpdesk.from_env()
    with desk.mail_client(account, deadline=500.0, clock=clock) as client:
        assert (client.address, client.deadline, client.clock) == (account.address, 500.0, clock)
        client.send_mime(b"From: support@contoso.example\r\nTo: ann@example.org\r\n"
                         b"Subject: hi\r\nMessage-ID: <t1@desk>\r\n\r\nhello\r\n")
    assert [box for box, _ in graph.sent] == ["support@contoso.example"]
    assert desk.deliveries is desk.deliveries and desk.counters is desk.counters
    assert desk.templates.snapshot()("new_ticket_alert", "").subject
