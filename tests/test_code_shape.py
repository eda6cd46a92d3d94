"""The shape of shared_code/ (issue 7 §3): the admin CLI is a package of command groups with
no import cycle, no module shadows the standard library, and modules stay small.

These read the source (ast, file sizes); nothing here needs Azurite or the fakes.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared_code"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules of shared_code imported at module level (late imports inside functions cannot
    make an import cycle, so they are not counted)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # `from . import x`
    return {m for m in found if m == "shared_code" or m.startswith("shared_code.")}


def _import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    # a module's own parent packages are always imported before it: not an edge of a cycle
    return {name: {m for m in _top_level_imports(path) & set(modules)
                   if not name.startswith(m + ".")}
            for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]], within: str) -> list[str] | None:
    """One import cycle among the modules under `within`, or None."""
    nodes = {n for n in graph if n == within or n.startswith(within + ".")}
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node] & nodes):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cli_is_a_package_of_command_groups_without_an_import_cycle():
    cli = PACKAGE / "cli"
    assert (cli / "__main__.py").is_file(), "`python -m shared_code.cli` needs cli/__main__.py"
    for gone in ("cli.py", "cli_notifications.py", "cli_templates.py"):
        assert not (PACKAGE / gone).exists(), f"shared_code/{gone} moved into shared_code/cli/"
    graph = _import_graph()
    assert _cycle(graph, "shared_code.cli") is None, _cycle(graph, "shared_code.cli")
    # the command groups import only the leaves, never the parser that assembles them
    for name, imports in graph.items():
        if name.startswith("shared_code.cli.") and name not in (
                "shared_code.cli.parser", "shared_code.cli.__main__"):
            assert "shared_code.cli.parser" not in imports, f"{name} imports the parser"

    from shared_code.cli.parser import COMMAND_GROUPS, build_parser

    groups = {module.__name__.rpartition(".")[2] for module in COMMAND_GROUPS}
    assert groups == {"emails", "fetch", "tickets", "directory", "system_log", "quarantine",
                      "notifications", "templates", "migrate"}
    commands = build_parser()._subparsers._group_actions[0].choices
    assert list(commands) == ["emails", "fetch", "tickets", "departments", "staff", "syslog",
                              "quarantine", "send", "notifications", "templates", "migrate"]
    emails = commands["emails"]._subparsers._group_actions[0].choices
    assert list(emails) == ["add", "update", "remove", "show", "list", "test-send"]


def test_the_import_cycle_check_finds_a_cycle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "q": {"p.a"}}
    assert _cycle(graph, "p") == ["p.a", "p.b", "p.c", "p.a"]
    assert _cycle({"p.a": {"p.b"}, "p.b": set()}, "p") is None


def test_the_graph_adapter_is_a_package_exporting_the_old_names():
    import shared_code.adapters.graph as graph

    assert hasattr(graph, "__path__"), "adapters/graph is a package (auth, client, errors, messages)"
    assert not (PACKAGE / "adapters" / "graph.py").exists()
    homes = {
        "auth": ("TokenProvider", "clear_token_cache"),
        "client": ("GraphMailClient",),
        "errors": ("GraphError", "GraphAuthError"),
        "messages": ("GraphMessageRef", "parse_graph_datetime", "format_graph_datetime"),
    }
    for module, names in homes.items():
        for name in names:
            assert getattr(graph, name).__module__ == f"shared_code.adapters.graph.{module}", name
    # callers import these from the package, as they did from the module
    for name in ("GRAPH_SCOPES", "DEFAULT_TIMEOUT", "MESSAGE_FIELDS", "WELL_KNOWN_FOLDERS",
                 "BACKOFF_BASE", "BACKOFF_CAP"):
        assert hasattr(graph, name), name
    assert issubclass(graph.GraphAuthError, graph.GraphError)


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_or_package_is_named_like_a_standard_library_module():
    """A `shared_code/x/threading.py` reads like the standard library's threading in every import
    and in tracebacks, and becomes the real thing's shadow for any script run from its folder."""
    import sys

    named_like_stdlib = []
    for path in _modules():
        names = [path.stem] if path.stem not in ("__init__", "__main__") else []
        names += [part for part in path.relative_to(PACKAGE).parts[:-1]]  # the packages it is in
        named_like_stdlib += [f"{path.relative_to(ROOT)} ({name})" for name in names
                              if name in sys.stdlib_module_names]
    assert named_like_stdlib == []


MAX_LINES = 450

#: Modules allowed over MAX_LINES, each with its reason. Remove an entry once its module is
#: split (the test fails on a stale entry, so the list only shrinks).
ALLOWED_LONG = {
}


def test_no_module_is_longer_than_the_limit_except_the_listed_few():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text("utf-8").splitlines()) for p in _modules()}
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in ALLOWED_LONG}
    assert too_long == {}, f"split these modules (at most {MAX_LINES} lines) or justify them"
    stale = {name: lengths.get(name) for name in ALLOWED_LONG
             if lengths.get(name, 0) <= MAX_LINES}
    assert stale == {}, "these are short enough (or gone) now: drop them from ALLOWED_LONG"


def test_the_fetch_run_is_split_by_concern_without_an_import_cycle():
    """services/mailbox_run.py composes the listing, the ledger bookkeeping, the settlement of
    mails that did not get through and the failure classes, each a module of its own."""
    services = PACKAGE / "services"
    parts = ("mailbox_run", "mailbox_listing", "mailbox_attempts", "mailbox_settlement",
             "mailbox_errors")
    for part in parts:
        path = services / f"{part}.py"
        assert path.is_file(), f"shared_code/services/{part}.py"
        assert len(path.read_text("utf-8").splitlines()) <= 400, part
    graph = _import_graph()
    assert _cycle(graph, "shared_code.services") is None, _cycle(graph, "shared_code.services")
    run = graph["shared_code.services.mailbox_run"]
    assert {f"shared_code.services.{part}" for part in parts[1:]} <= run
    # the parts never import the run that composes them
    for part in parts[1:]:
        assert "shared_code.services.mailbox_run" not in graph[f"shared_code.services.{part}"]

    from shared_code.services.fetch import MailboxRun, TransientError

    assert MailboxRun.__module__ == "shared_code.services.mailbox_run"
    assert TransientError.__module__ == "shared_code.services.mailbox_errors"
