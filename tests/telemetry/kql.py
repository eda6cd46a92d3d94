"""A tiny evaluator for the subset of KQL the alert queries use, so they can run here over the
customEvents rows the app really produced (tests/telemetry/rows.py). KQL itself cannot run
on these machines.

Supported: a table name, then one operator per line: `where COND`, `extend A = EXPR, ...`,
`summarize AGG, ... [by COL, ...]` with count(), countif(c), max(e), maxif(e, c), sum(e),
and `project COL, ...`. Expressions: `customDimensions.KEY`, tostring/toint/tobool, isnull,
ago(Nm|Nh|Nd) against a given `now`, ==, !=, <, >, and, or, not(). Anything else raises, so
a query changed beyond the subset fails its test instead of passing untested. KQL's nulls:
a missing dimension is null, tostring(null) is "", toint of a non-number is null, and a
comparison with null is false.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_AGGREGATE = re.compile(r"^(\w+)\s*=\s*(count|countif|max|maxif|sum)\((.*)\)$")
_ALLOWED_WORDS = {"and", "or", "not", "tostring", "toint", "tobool", "isnull", "ago",
                  "customDimensions", "true", "false"}


def lines(query: str) -> list[str]:
    """The query without comments, one pipeline step per item (the table first)."""
    text = "\n".join(line.split("//", 1)[0] for line in query.splitlines())
    return [step.strip() for step in re.split(r"\n\s*\|", text) if step.strip()]


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


class _Null:
    """KQL null in comparisons: every comparison is false."""

    def __eq__(self, other): return False
    def __ne__(self, other): return False
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __bool__(self): return False
    __hash__ = None


NULL = _Null()


class _Dynamic(dict):
    def __getattr__(self, key):
        value = self.get(key)
        return NULL if value is None else value


def _tostring(value) -> str:
    return "" if value is NULL or value is None else str(value)


def _toint(value):
    try:
        return int(str(value))
    except ValueError:
        return NULL


def _tobool(value):
    text = _tostring(value).lower()
    return {"true": True, "false": False}.get(text, NULL)


def _python(expr: str) -> str:
    """A KQL expression of the subset as a Python expression (or ValueError)."""
    expr = re.sub(r"ago\((\d+)([mhd])\)", lambda m: f'ago({m.group(1)}, "{m.group(2)}")', expr)
    for word in re.findall(r'"[^"]*"|([A-Za-z_][\w]*)', expr):
        if word and word not in _ALLOWED_WORDS and not word.islower():
            raise ValueError(f"unsupported word {word!r} in {expr!r}")
    expr = expr.replace("true", "True").replace("false", "False")
    if re.search(r"[^=!<>]=[^=]", expr):
        raise ValueError(f"unsupported assignment in {expr!r}")
    return expr


class _Scope(dict):
    """A row's columns as names; an unknown column is an error, as in KQL."""

    def __missing__(self, key):
        raise KeyError(f"no column {key!r}")


def _value(expr: str, row: dict, now: datetime):
    functions = {"tostring": _tostring, "toint": _toint, "tobool": _tobool,
                 "isnull": lambda v: v is NULL or v is None, "True": True, "False": False,
                 "ago": lambda n, unit: now - timedelta(**{_UNITS[unit]: int(n)}),
                 "__builtins__": {}}
    scope = _Scope(row)
    scope["customDimensions"] = _Dynamic(row.get("customDimensions") or {})
    try:
        value = eval(_python(expr), functions, scope)  # noqa: S307 (the subset, checked above)
    except SyntaxError as error:
        raise ValueError(f"not in the subset: {expr!r}") from error
    return NULL if value is None else value


def _summarize(rows: list[dict], spec: str, now: datetime) -> list[dict]:
    spec, _, by = spec.partition(" by ")
    keys = [k.strip() for k in _split(by)] if by else []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(_value(k, row, now) for k in keys), []).append(row)
    if not keys and not groups:
        groups[()] = []  # KQL: summarize without `by` over nothing gives one row
    out = []
    for group_key, members in groups.items():
        result = dict(zip(keys, group_key))
        for aggregate in _split(spec):
            match = _AGGREGATE.match(aggregate)
            if not match:
                raise ValueError(f"unsupported aggregate {aggregate!r}")
            name, function, args = match.groups()
            args = _split(args)
            if function == "count":
                result[name] = len(members)
            elif function == "countif":
                result[name] = sum(1 for r in members if _value(args[0], r, now) is True)
            else:
                chosen = members if function != "maxif" else [
                    r for r in members if _value(args[1], r, now) is True]
                values = [v for v in (_value(args[0], r, now) for r in chosen) if v is not NULL]
                result[name] = (sum(values) if function == "sum" else
                                max(values) if values else NULL)
        out.append(result)
    return out


def evaluate(query: str, tables: dict[str, list[dict]], now: datetime) -> list[dict]:
    """The rows the query returns at `now` over the given tables (rows with a `timestamp`)."""
    table, *steps = lines(query)
    if table not in tables:
        raise ValueError(f"unsupported source {table!r}")
    rows = [dict(row) for row in tables[table]]
    for step in steps:
        operator, _, rest = step.partition(" ")
        if operator == "where":
            rows = [r for r in rows if _value(rest, r, now) is True]
        elif operator == "extend":
            for assignment in _split(rest):
                name, _, expr = assignment.partition("=")
                for r in rows:
                    r[name.strip()] = _value(expr.strip(), r, now)
        elif operator == "summarize":
            rows = _summarize(rows, rest, now)
        elif operator == "project":
            columns = [c.strip() for c in _split(rest)]
            rows = [{c: r[c] for c in columns} for r in rows]
        else:
            raise ValueError(f"unsupported operator {operator!r}")
    return rows


def timestamped(rows: list[dict], when: datetime) -> list[dict]:
    """The rows as if sent at `when` (the tests move time instead of waiting)."""
    return [{**row, "timestamp": when} for row in rows]
