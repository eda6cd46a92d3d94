"""TemplateStore contract: adapters/template_store.py on Azurite and MemoryTemplates."""
from __future__ import annotations

import pytest

from shared_code import ports
from shared_code.domain.templates import (
    DEFAULT_TEMPLATES, TEMPLATE_KEYS, Template, TemplateError, UnknownTemplateError,
)

KEY = TEMPLATE_KEYS[0]
MINE = Template(subject="Re: %{ticket.subject}", html="<p>Thanks</p>", text="Thanks")
SUPPORT = Template(subject="Support: %{ticket.subject}", html="<p>Hi</p>", text="Hi")


def test_it_is_a_template_store(templates):
    assert isinstance(templates, ports.TemplateStore)


def test_department_override_then_stored_default_then_built_in(templates):
    assert templates.resolve(KEY) == (DEFAULT_TEMPLATES[KEY], "built-in")

    templates.set(KEY, MINE)
    templates.set(KEY, SUPPORT, department="Support")

    assert templates.resolve(KEY) == (MINE, "default")
    assert templates.resolve(KEY, "support") == (SUPPORT, "Support")
    assert templates.resolve(KEY, "Sales") == (MINE, "default")
    assert templates.get(KEY, "Support") == SUPPORT
    assert dict(templates.list("Support"))[KEY] == "Support"
    assert dict(templates.list())[KEY] == "default"
    assert [key for key, _ in templates.list()] == list(TEMPLATE_KEYS)


def test_reset_says_whether_there_was_one(templates):
    templates.set(KEY, SUPPORT, department="Support")

    assert templates.reset(KEY, department="Support") is True
    assert templates.reset(KEY, department="Support") is False
    assert templates.resolve(KEY, "Support") == (DEFAULT_TEMPLATES[KEY], "built-in")


def test_bad_templates_and_unknown_keys_are_refused(templates):
    with pytest.raises(TemplateError):
        templates.set(KEY, Template(subject="x", html="<p>%{no.such.variable}</p>", text="x"))
    with pytest.raises(TemplateError, match="limit"):
        templates.set(KEY, Template(subject="x", html="<p>x</p>", text="x" * 40_000))
    with pytest.raises(UnknownTemplateError):
        templates.resolve("no_such_template")
    assert templates.resolve(KEY) == (DEFAULT_TEMPLATES[KEY], "built-in")
