"""One module names every table, container and queue (issue 7 §3): adapters/names.py.

Reads the source (ast); nothing here needs Azurite or the fakes.
"""
from __future__ import annotations

import ast
from pathlib import Path

from shared_code.adapters import names

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("shared_code/adapters", "shared_code/services", "shared_code/pipeline",
           "shared_code/cli", "functions")

#: `ticket` (the old layout's ticket partition, names.OLD_TICKET_PARTITION) is also the field
#: that names a ticket on ledger, index and notification rows: too common a word to scan for.
NOT_SCANNED = {names.OLD_TICKET_PARTITION}

#: Literals equal to a storage name that mean something else there, with the reason.
ALLOWED = {
    ("shared_code/adapters/ticket_store.py", "attachments"): "the entry's attachments field",
    ("shared_code/services/send_delivery.py", "attachments"): "the notification's files field",
    ("shared_code/services/actions.py", "staff"): "a recipient role",
    ("shared_code/services/notification_requests.py", "staff"): "a recipient role",
    ("shared_code/services/ticket_views.py", "staff"): "the request field at fault",
    ("shared_code/cli/directory.py", "departments"): "the command group",
    ("shared_code/cli/directory.py", "staff"): "the command group",
    ("shared_code/cli/clients.py", "clients"): "the command group",
    ("shared_code/cli/quarantine.py", "quarantine"): "the command group",
    ("shared_code/cli/templates.py", "templates"): "the command group",
    ("shared_code/cli/tickets.py", "tickets"): "the command group",
    ("shared_code/cli/filters.py", "filters"): "the command group",
}


def _storage_names() -> set[str]:
    return {value for key, value in vars(names).items()
            if key.isupper() and isinstance(value, str)} - NOT_SCANNED


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _exempt(tree: ast.AST) -> set[int]:
    """Literals that are not names by position: dict keys and subscripts (entity fields), and
    the value of a `..._PARTITION` constant (a partition key that reads like its table)."""
    found = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            found |= {id(key) for key in node.keys if key is not None}
        elif isinstance(node, ast.Subscript):
            found.add(id(node.slice))
        elif isinstance(node, ast.Assign) and all(
                isinstance(t, ast.Name) and t.id.endswith("PARTITION") for t in node.targets):
            found.add(id(node.value))
    return found


def _literals(text: str) -> list[tuple[str, int]]:
    tree = ast.parse(text)
    exempt = _exempt(tree)
    storage = _storage_names()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exempt:
            # a name itself, or a name glued to a suffix in an f-string (`f"{QUEUE}-poison"`)
            if node.value in storage or node.value in {"-poison"}:
                out.append((node.value, node.lineno))
    return out


def test_storage_names_are_spelled_only_in_names_py():
    spelled, allowed_seen = [], set()
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            if relative == "shared_code/adapters/names.py":
                continue
            for value, line in _literals(path.read_text("utf-8")):
                if (relative, value) in ALLOWED:
                    allowed_seen.add((relative, value))
                else:
                    spelled.append(f"{relative}:{line} {value!r}")
    assert spelled == [], "import these from shared_code/adapters/names.py"
    assert set(ALLOWED) - allowed_seen == set(), "stale ALLOWED entries: drop them"


def test_the_scan_finds_a_spelled_name():
    assert _literals('TABLE = "sendcounters"\nq = f"{FETCH_JOBS}-poison"\n') == [
        ("sendcounters", 1), ("-poison", 2)]
    assert _literals('row = {"attachments": 1}\nrow["staff"]\nSTAFF_PARTITION = "staff"\n') == []


def test_names_lists_every_table_container_and_queue_once():
    for group in (names.TABLES, names.CONTAINERS, names.QUEUES):
        assert len(set(group)) == len(group)
    assert names.FETCH_POISON in names.QUEUES
