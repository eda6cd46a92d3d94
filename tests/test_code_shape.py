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
                      "notifications", "clients", "templates", "migrate", "monitor", "reconcile",
                      "doctor", "filters"}
    commands = build_parser()._subparsers._group_actions[0].choices
    assert list(commands) == ["emails", "fetch", "tickets", "departments", "staff", "syslog",
                              "quarantine", "send", "notifications", "clients", "templates", "migrate",
                              "monitor", "reconcile", "doctor", "filters"]
    emails = commands["emails"]._subparsers._group_actions[0].choices
    assert list(emails) == ["add", "update", "remove", "show", "list", "resubscribe",
                            "test-send"]


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

    from shared_code.services.mailbox_errors import TransientError
    from shared_code.services.mailbox_run import MailboxRun

    assert MailboxRun.__module__ == "shared_code.services.mailbox_run"
    assert TransientError.__module__ == "shared_code.services.mailbox_errors"


# ---------------------------------------------------------------- no re-export shims

#: Packages whose __init__ is their API (callers import the names from the package).
PACKAGE_APIS = {"shared_code.adapters.graph", "shared_code.domain.mail", "shared_code.pipeline",
                "shared_code.cli", "shared_code"}


def _defined_and_imported(path: Path) -> tuple[set[str], set[str]]:
    """Names a module defines at top level, and names it only imports."""
    defined: set[str] = set()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                defined |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imported |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return defined, imported - defined


def _shared_code_imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) of every `from shared_code... import name` in a file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            if module == "shared_code" or module.startswith("shared_code."):
                found += [(module, alias.name, node.lineno) for alias in node.names]
    return found


def _module_path(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    if (path / "__init__.py").exists():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else None


def test_every_import_names_the_module_that_defines_it():
    """No re-export shims: a name is imported from the module that defines it (a package's
    __init__ listed in PACKAGE_APIS excepted), so moving it means moving its importers."""
    files = [ROOT / "function_app.py"] + [
        p for folder in ("shared_code", "functions", "tests", "benchmarks", "scripts")
        for p in sorted((ROOT / folder).rglob("*.py"))]
    cache: dict[str, tuple[set[str], set[str]]] = {}
    through_shims = []
    for path in files:
        for module, name, line in _shared_code_imports(path):
            if module in PACKAGE_APIS or name == "*":
                continue
            target = _module_path(module)
            if target is None or _module_path(f"{module}.{name}") is not None:
                continue  # a submodule (`from . import x`)
            if module not in cache:
                cache[module] = _defined_and_imported(target)
            defined, imported = cache[module]
            if name in imported:
                through_shims.append(f"{path.relative_to(ROOT)}:{line} {name} from {module}")
    assert through_shims == [], "import these from the module that defines them"


def test_no_module_keeps_a_lazy_forwarding_shim():
    """A module-level __getattr__ forwarding moved names is a re-export shim by another name."""
    shims = [str(p.relative_to(ROOT)) for p in _modules()
             if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                    for node in ast.parse(p.read_text("utf-8")).body)]
    assert shims == []


def test_shared_code_has_no_unused_import():
    """An import nothing in the module uses is either dead or a shim for someone else."""
    from pyflakes import api, messages, reporter

    class Collect(reporter.Reporter):
        def __init__(self):
            super().__init__(None, None)
            self.found: list[str] = []

        def flake(self, message):
            if isinstance(message, messages.UnusedImport):
                self.found.append(str(message))

        def unexpectedError(self, filename, msg):  # noqa: N802 (pyflakes' name)
            self.found.append(f"{filename}: {msg}")

        def syntaxError(self, filename, msg, lineno, offset, text):  # noqa: N802
            self.found.append(f"{filename}:{lineno}: {msg}")

    collect = Collect()
    for path in _modules():
        if _module_name(path) not in PACKAGE_APIS:
            api.checkPath(str(path), collect)
    assert collect.found == []
