"""domain/filters.py: conditions, merging, and the regex time limit (no nested repeats, bounded
input), measured in CPU seconds (tests/work_budget.py)."""
from __future__ import annotations

import re

import pytest

from shared_code.domain.filters import (
    MAX_MATCH_CHARS, Action, Condition, Filter, FilterAction, FilterField, FilterOperator,
    check_pattern, condition_matches, evaluate,
)
from shared_code.domain.mail import parse_mail
from shared_code.domain.model import ValidationError
from tests.work_budget import cpu_budget

CATASTROPHIC = r"^(a+)+$"


def _mail(subject="Hello", body="body", headers=""):
    return parse_mail((f"From: Ann <ann@example.org>\r\nTo: support@contoso.example\r\n"
                       f"Cc: Bob <bob@example.org>\r\nSubject: {subject}\r\n{headers}"
                       f"Message-ID: <m@example.org>\r\n\r\n{body}\r\n").encode())


def test_the_catastrophic_pattern_is_refused_and_would_take_forever_with_plain_re():
    with pytest.raises(ValidationError) as error:
        Filter("x", [Condition(FilterField.SUBJECT, FilterOperator.REGEX, CATASTROPHIC)],
               [Action(FilterAction.ADD_TAG, "x")]).validate()
    assert error.value.field == "conditions.value" and "nests a repeat" in str(error.value)
    for pattern in (r"(a*)*b", r"(x|y+)*z", r"(\w+\s?)+$", r"(?:(ab){2,})+", r"^(a|aa)*$"):
        with pytest.raises(ValidationError):
            check_pattern(pattern)


def test_a_stored_catastrophic_pattern_is_skipped_at_match_time_within_a_cpu_budget():
    """A row edited in the table bypasses validation: the match refuses it, in no time."""
    condition = Condition(FilterField.BODY, FilterOperator.REGEX, CATASTROPHIC)
    mail = _mail(body="a" * 5000 + "!")
    with cpu_budget(1.0, "matching a catastrophic pattern"):
        assert condition_matches(condition, mail) is False


def test_an_allowed_pattern_on_a_huge_body_reads_only_the_bounded_prefix():
    body = "x" * (MAX_MATCH_CHARS + 10) + "needle"
    mail = _mail(body=body)
    with cpu_budget(1.0, "a linear pattern on a huge body"):
        assert not condition_matches(Condition(FilterField.BODY, FilterOperator.REGEX,
                                               r"x*needle"), mail)
    assert condition_matches(Condition(FilterField.BODY, FilterOperator.CONTAINS, "xxx"), mail)


def test_safe_patterns_are_accepted():
    for pattern in (r"^PROBLEM: .* is (DOWN|CRITICAL)$", r"(?i)invoice\s+\d+", r"(ab)+c",
                    r"a{2,5}b", r"[a-z]+@example\.org", r"(?:a|b)*c", r"(foo|bar) \d+"):
        assert isinstance(check_pattern(pattern), re.Pattern)


def test_each_field_and_operator():
    mail = _mail(subject="Invoice 42", body="Amount due", headers="X-Mailer: Nagios 4\r\n")
    hit = lambda field, op, value, header="": condition_matches(  # noqa: E731
        Condition(field, op, value, header), mail)
    assert hit(FilterField.SENDER, FilterOperator.EQUALS, "ANN@example.org")
    assert hit(FilterField.RECIPIENT, FilterOperator.EQUALS, "bob@example.org")  # Cc counts
    assert not hit(FilterField.RECIPIENT, FilterOperator.EQUALS, "ann@example.org")
    assert hit(FilterField.SUBJECT, FilterOperator.CONTAINS, "invoice")
    assert not hit(FilterField.SUBJECT, FilterOperator.EQUALS, "invoice")
    assert hit(FilterField.BODY, FilterOperator.REGEX, r"Amount\s+due")
    assert not hit(FilterField.BODY, FilterOperator.REGEX, r"amount due")  # regex: as written
    assert hit(FilterField.HEADER, FilterOperator.CONTAINS, "nagios", "x-mailer")
    assert not hit(FilterField.HEADER, FilterOperator.CONTAINS, "nagios", "x-other")


def test_all_conditions_must_match_and_disabled_filters_are_skipped():
    mail = _mail(subject="Invoice 42")
    both = Filter("both", [Condition(FilterField.SUBJECT, FilterOperator.CONTAINS, "invoice"),
                           Condition(FilterField.BODY, FilterOperator.CONTAINS, "nothing")],
                  [Action(FilterAction.DISCARD, "r")], position=1)
    off = Filter("off", [Condition(FilterField.SUBJECT, FilterOperator.CONTAINS, "invoice")],
                 [Action(FilterAction.DISCARD, "r")], position=2, enabled=False)
    decision = evaluate([both, off], mail)
    assert decision.matched == [] and decision.discard == ""
    assert decision.describe() == ["nothing changes"]


def test_from_dict_names_the_bad_field():
    with pytest.raises(ValidationError) as error:
        Filter.from_dict({"name": "x", "conditions": [{"field": "subject", "operator": "like",
                                                       "value": "a"}], "actions": []})
    assert error.value.field == "conditions.operator"
    with pytest.raises(ValidationError) as error:
        Filter.from_dict({"name": "x", "conditions": [], "actions": [{"kind": "explode"}]})
    assert error.value.field == "actions.kind"
