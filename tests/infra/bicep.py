"""The Bicep templates of infra/, parsed with pycep-parser (the parser checkov uses), and small
helpers to read the parse tree: resources with their `if` and `for` wrappers taken off,
variables resolved by name. pycep writes an identifier and a string literal alike (both are
plain strings), so helpers resolve a name only where the Bicep grammar makes it one."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"


@dataclass(frozen=True)
class Resource:
    file: str
    symbol: str
    type: str
    existing: bool
    config: dict  # the body, without `if (...)` / `for ... in ...`
    condition: object | None
    loop: dict | None

    @property
    def properties(self) -> dict:
        return self.config.get("properties") or {}


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    from pycep import BicepParser

    return BicepParser().parse(file_path=path)


def _unwrap(config: dict) -> tuple[dict, object | None, dict | None]:
    condition = loop = None
    while isinstance(config, dict) and set(config) & {"condition", "loop_type"} and "config" in config:
        condition = config.get("condition") or condition
        loop = config.get("loop_type") or loop
        config = config["config"]
    return config, condition, loop


def resources(kind: str | None = None, include_existing: bool = False) -> list[Resource]:
    found = []
    for path in bicep_files():
        for symbol, body in (parse(path).get("resources") or {}).items():
            config, condition, loop = _unwrap(body["config"])
            item = Resource(path.name, symbol, body["type"], bool(body.get("existing")), config,
                            condition, loop)
            if (kind is None or item.type == kind) and (include_existing or not item.existing):
                found.append(item)
    return found


def one(kind: str) -> Resource:
    found = resources(kind)
    assert len(found) == 1, f"expected one {kind}, found {[r.symbol for r in found]}"
    return found[0]


def variables(file_name: str) -> dict:
    tree = parse(INFRA / "modules" / file_name if file_name != "main.bicep" else MAIN)
    return {name: body["value"] for name, body in (tree.get("variables") or {}).items()}


def parameters(file_name: str) -> dict:
    tree = parse(INFRA / "modules" / file_name if file_name != "main.bicep" else MAIN)
    return tree.get("parameters") or {}


def by_symbol(file_name: str, symbol: str) -> Resource:
    for item in resources(include_existing=True):
        if item.file == file_name and item.symbol == symbol:
            return item
    raise KeyError(f"{file_name}: no resource {symbol}")


def app_settings() -> dict[str, str]:
    """The app settings appconfig.bicep gives the Function App: the `appSettings` variable
    (the config resource writes union(appSettings, extraAppSettings))."""
    return dict(variables("appconfig.bicep")["appSettings"])


def parameter_file() -> dict:
    return json.loads((INFRA / "main.parameters.json").read_text())["parameters"]


def walk(value):
    """Every string in a parse tree or JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from walk(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from walk(item)
    elif isinstance(value, str):
        yield value
