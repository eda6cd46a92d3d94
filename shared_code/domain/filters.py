"""Filters admins write: ordered conditions on an inbound mail and what to do when they match.

Every condition of a filter must match (AND). ALL filters are evaluated, in order; each matching
filter's actions apply, and where two set the same single value (department, priority,
assignee) the EARLIER filter wins, so order is priority. Tags accumulate. Any matching
`discard` discards the mail (the first such filter's reason is logged).

Regular expressions have a time limit without threads: Python's `re` cannot be interrupted, so
a pattern is refused when saved (and skipped when matched) if it nests a repeat or a
multi-character alternation inside a repeat (`(a+)+`, `(a*)*b`, `(a|aa)*b`), the shapes of
catastrophic backtracking; and it only
ever sees the first MAX_MATCH_CHARS characters of a value. A pattern without nested repeats
backtracks at most polynomially, so on a bounded input its run time is bounded too.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from functools import lru_cache

from .mail import ParsedMail
from .model import Priority, ValidationError

MAX_MATCH_CHARS = 20_000  # what one condition reads of a value (a body is cut there)
MAX_PATTERN_CHARS = 500
MAX_CONDITIONS = 20
MAX_ACTIONS = 20
MAX_VALUE_CHARS = 500  # a condition's value (the filter is one JSON column, ≤ 64 KiB)
MAX_POSITION = 10_000
MAX_FILTER_NAME = 100


class FilterField(StrEnum):
    HEADER = "header"  # a named header (`header` names it), any of its values
    SENDER = "sender"  # the From address
    RECIPIENT = "recipient"  # any To or Cc address
    SUBJECT = "subject"
    BODY = "body"  # the text body (or the text derived from the HTML)


class FilterOperator(StrEnum):
    CONTAINS = "contains"  # case-insensitive substring
    EQUALS = "equals"  # case-insensitive, whole value (stripped)
    REGEX = "regex"  # re.search, as written (use (?i) for case-insensitive)


class FilterAction(StrEnum):
    DISCARD = "discard"  # value: the reason logged
    ALLOW_AUTO_GENERATED = "allow_auto_generated"  # the auto-reply rule lets it through
    SET_DEPARTMENT = "set_department"
    SET_PRIORITY = "set_priority"
    SET_ASSIGNEE = "set_assignee"
    ADD_TAG = "add_tag"
    SKIP_AUTO_RESPONSE = "skip_auto_response"


NEEDS_VALUE = {FilterAction.SET_DEPARTMENT, FilterAction.SET_PRIORITY,
               FilterAction.SET_ASSIGNEE, FilterAction.ADD_TAG}


@dataclass
class Condition:
    field: FilterField
    operator: FilterOperator
    value: str
    header: str = ""  # the header's name, for FilterField.HEADER


@dataclass
class Action:
    kind: FilterAction
    value: str = ""


@dataclass
class Filter:
    name: str
    conditions: list[Condition]
    actions: list[Action]
    position: int = 0  # 1 = evaluated first
    enabled: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Filter":
        """A filter from stored or submitted JSON; unknown enum values raise ValidationError."""
        try:
            conditions = [Condition(_enum(FilterField, c.get("field"), "conditions.field"),
                                    _enum(FilterOperator, c.get("operator"), "conditions.operator"),
                                    str(c.get("value") or ""), str(c.get("header") or ""))
                          for c in data.get("conditions") or []]
            actions = [Action(_enum(FilterAction, a.get("kind"), "actions.kind"),
                              str(a.get("value") or "")) for a in data.get("actions") or []]
        except (AttributeError, TypeError) as error:
            raise ValidationError(f"malformed filter: {error}", "conditions") from error
        try:
            position = int(data.get("position") or 0)
        except (TypeError, ValueError):
            raise ValidationError("position must be a whole number", "position") from None
        return cls(name=str(data.get("name") or ""), conditions=conditions, actions=actions,
                   position=position, enabled=bool(data.get("enabled", True)))

    def validate(self, departments: set[str] | None = None, staff: set[str] | None = None) -> None:
        """Refuse what would fail or misbehave at fetch time, naming the field. `departments`
        and `staff` (when given) are the known names and addresses."""
        self.name = self.name.strip()
        if not self.name or len(self.name) > MAX_FILTER_NAME or "/" in self.name:
            raise ValidationError(f"filter name must be 1 to {MAX_FILTER_NAME} characters, "
                                  "without /", "name")
        if not self.conditions:
            raise ValidationError("a filter needs at least one condition", "conditions")
        if len(self.conditions) > MAX_CONDITIONS:
            raise ValidationError(f"at most {MAX_CONDITIONS} conditions", "conditions")
        for condition in self.conditions:
            _validate_condition(condition)
        if not self.actions:
            raise ValidationError("a filter needs at least one action", "actions")
        if len(self.actions) > MAX_ACTIONS:
            raise ValidationError(f"at most {MAX_ACTIONS} actions", "actions")
        if not 0 <= self.position <= MAX_POSITION:
            raise ValidationError(f"position must be between 1 and {MAX_POSITION}", "position")
        for action in self.actions:
            action.value = action.value.strip()
            _validate_action(action, departments, staff)


def _enum(kind, value, name: str):
    try:
        return kind(str(value or "").strip().lower())
    except ValueError:
        choices = ", ".join(item.value for item in kind)
        raise ValidationError(f"{name} must be one of {choices}, got {value!r}", name) from None


def _validate_condition(condition: Condition) -> None:
    if condition.field == FilterField.HEADER:
        condition.header = condition.header.strip().lower()
        if not re.fullmatch(r"[!-9;-~]{1,100}", condition.header):
            raise ValidationError("a header condition needs the header's name", "conditions.header")
    if not condition.value or len(condition.value) > MAX_VALUE_CHARS:
        raise ValidationError(f"a condition needs a value to match, at most {MAX_VALUE_CHARS} "
                              "characters", "conditions.value")
    if condition.operator == FilterOperator.REGEX:
        check_pattern(condition.value)


def _validate_action(action: Action, departments, staff) -> None:
    if action.kind in NEEDS_VALUE and not action.value:
        raise ValidationError(f"{action.kind.value} needs a value", "actions.value")
    if len(action.value) > 320:
        raise ValidationError("an action's value is at most 320 characters", "actions.value")
    if action.kind == FilterAction.SET_PRIORITY:
        _enum(Priority, action.value, "actions.value")
        action.value = action.value.lower()
    if action.kind == FilterAction.SET_DEPARTMENT and departments is not None \
            and action.value not in departments:
        raise ValidationError(f"unknown department {action.value!r}", "actions.value")
    if action.kind == FilterAction.SET_ASSIGNEE:
        action.value = action.value.lower()
        if staff is not None and action.value not in staff:
            raise ValidationError(f"unknown staff member {action.value!r}", "actions.value")
    if action.kind == FilterAction.ADD_TAG and not re.fullmatch(r"[\w.-]{1,40}", action.value):
        raise ValidationError("a tag is 1 to 40 letters, digits, '.', '-' or '_'", "actions.value")


def _repeats(items, inside: bool) -> bool:
    """True when a repeat (max > 1) or an alternation sits inside a repeat: catastrophic
    backtracking."""
    from re import _parser as sre  # the stdlib's own parse of the pattern

    for op, arg in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, body = arg
            unbounded = high is sre.MAXREPEAT or high > 1
            if inside and unbounded:
                return True
            if _repeats(body, inside or unbounded):
                return True
        elif op == sre.SUBPATTERN:
            if _repeats(arg[-1], inside):
                return True
        elif op == sre.BRANCH:
            # an alternation under a repeat can match one text many ways (`(a|aa)*b`); the
            # parser already turned single-character alternatives (`(a|b)*`) into a class
            if inside or any(_repeats(branch, inside) for branch in arg[1]):
                return True
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            if _repeats(arg[1], inside):
                return True
        elif op == sre.GROUPREF_EXISTS:
            if any(branch is not None and _repeats(branch, inside) for branch in arg[1:]):
                return True
    return False


@lru_cache(maxsize=256)
def check_pattern(pattern: str) -> re.Pattern:
    """The compiled pattern, or ValidationError (field `conditions.value`) when it is too long,
    invalid, or nests repeats."""
    from re import _parser as sre

    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValidationError(f"a regular expression is at most {MAX_PATTERN_CHARS} characters",
                              "conditions.value")
    try:
        compiled = re.compile(pattern)
        parsed = sre.parse(pattern)
    except re.error as error:
        raise ValidationError(f"invalid regular expression {pattern!r}: {error}",
                              "conditions.value") from None
    if _repeats(list(parsed), False):
        raise ValidationError(f"regular expression {pattern!r} nests a repeat inside a repeat "
                              "or repeats an alternation (catastrophic backtracking); rewrite it "
                              "without", "conditions.value")
    return compiled


def _values(condition: Condition, mail: ParsedMail) -> list[str]:
    if condition.field == FilterField.HEADER:
        return mail.headers.get(condition.header, [])
    if condition.field == FilterField.SENDER:
        return [mail.from_address]
    if condition.field == FilterField.RECIPIENT:
        return [address for _, address in mail.to + mail.cc if address]
    if condition.field == FilterField.SUBJECT:
        return [mail.subject]
    return [mail.text_body or ""]


def condition_matches(condition: Condition, mail: ParsedMail) -> bool:
    for value in _values(condition, mail):
        value = (value or "")[:MAX_MATCH_CHARS]
        if condition.operator == FilterOperator.CONTAINS:
            hit = condition.value.lower() in value.lower()
        elif condition.operator == FilterOperator.EQUALS:
            hit = condition.value.strip().lower() == value.strip().lower()
        else:
            try:
                hit = check_pattern(condition.value).search(value) is not None
            except ValidationError:
                return False  # stored before the check existed, or edited in the table
        if hit:
            return True
    return False


def matches(rule: Filter, mail: ParsedMail) -> bool:
    return rule.enabled and all(condition_matches(c, mail) for c in rule.conditions)


@dataclass
class FilterDecision:
    """What the matching filters ask for, merged (the module docstring has the rules)."""

    matched: list[str] = field(default_factory=list)  # filter names, in order
    discard: str = ""  # the reason, when a filter discards
    discarded_by: str = ""
    allow_auto_generated: bool = False
    skip_auto_response: bool = False
    department: str = ""
    priority: str = ""
    assignee: str = ""
    tags: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per effect, for `filters test` and the admin page."""
        if self.discard:
            return [f"discard: {self.discard} (filter {self.discarded_by!r})"]
        lines = []
        if self.allow_auto_generated:
            lines.append("an auto-generated mail may become a ticket")
        for name in ("department", "priority", "assignee"):
            if getattr(self, name):
                lines.append(f"{name}: {getattr(self, name)}")
        if self.tags:
            lines.append("tags: " + ", ".join(self.tags))
        if self.skip_auto_response:
            lines.append("no auto-response")
        return lines or ["nothing changes"]


def _apply(decision: FilterDecision, rule: Filter) -> None:
    for action in rule.actions:
        if action.kind == FilterAction.DISCARD and not decision.discard:
            decision.discard = action.value or f"filter {rule.name}"
            decision.discarded_by = rule.name
        elif action.kind == FilterAction.ALLOW_AUTO_GENERATED:
            decision.allow_auto_generated = True
        elif action.kind == FilterAction.SKIP_AUTO_RESPONSE:
            decision.skip_auto_response = True
        elif action.kind == FilterAction.ADD_TAG and action.value not in decision.tags:
            decision.tags.append(action.value)
        else:
            name = action.kind.value.removeprefix("set_")
            if hasattr(decision, name) and not getattr(decision, name):
                setattr(decision, name, action.value)


def evaluate(filters: list[Filter], mail: ParsedMail) -> FilterDecision:
    decision = FilterDecision()
    for rule in sorted(filters, key=lambda f: f.position):
        if matches(rule, mail):
            decision.matched.append(rule.name)
            _apply(decision, rule)
    return decision
