"""Template syntax, validation messages, rendering safety and the default templates."""
from __future__ import annotations

import re

import pytest

from shared_code.domain import notifications, routing
from shared_code.domain.templates import (
    AVAILABLE,
    DEFAULT_TEMPLATES,
    TEMPLATE_KEYS,
    TEMPLATES,
    VARIABLES,
    Template,
    TemplateError,
    UnknownTemplateError,
    build_url,
    render,
    sample_values,
    validate,
)

GUIDE_VARIABLES = {"ticket.number", "ticket.subject", "ticket.status", "ticket.priority",
                   "ticket.dept", "ticket.staff", "ticket.createDate", "ticket.lastMessage",
                   "recipient.name", "url"}


def _template(subject="Re: %{ticket.subject}", html="<p>%{ticket.subject}</p>",
              text="%{ticket.subject}") -> Template:
    return Template(subject=subject, html=html, text=text)


def _error(template: Template, key: str | None = None) -> str:
    with pytest.raises(TemplateError) as caught:
        validate(template, key)
    return str(caught.value)


# --- the catalogue agrees with the rest of the app ----------------------------------------


def test_keys_match_the_notification_schema_and_routing():
    """A key missing here would make the sender fail on a queued notification."""
    assert TEMPLATE_KEYS == notifications.TEMPLATES
    assert {k for k in TEMPLATE_KEYS if TEMPLATES[k].audience == "client"} == routing.CLIENT_TEMPLATES
    assert {k for k in TEMPLATE_KEYS if TEMPLATES[k].audience == "staff"} == routing.STAFF_TEMPLATES


def test_the_guides_variables_are_offered_in_every_template():
    assert GUIDE_VARIABLES <= set(VARIABLES)
    for key in TEMPLATE_KEYS:
        assert GUIDE_VARIABLES <= AVAILABLE[key] <= set(VARIABLES), key


# --- defaults -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_every_default_validates_and_renders_completely(key):
    template = DEFAULT_TEMPLATES[key]
    validate(template, key)
    rendered = render(template, sample_values())
    for part in (rendered.subject, rendered.html, rendered.text):
        assert "%{" not in part
    assert "108749" in rendered.html and "108749" in rendered.text
    assert "http://localhost:7071/tickets?number=108749" in rendered.text
    assert 'href="http://localhost:7071/tickets?number=108749"' in rendered.html


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_default_subjects_leave_the_tag_to_the_sender(key):
    """The sender prefixes `[#number]`; a second tag in the subject would read badly."""
    assert "#" not in DEFAULT_TEMPLATES[key].subject
    assert "ticket.number" not in DEFAULT_TEMPLATES[key].subject


def test_auto_response_is_brief_and_staff_alerts_are_informative():
    """The guide's best practice 4, and alerts that spare staff a click."""
    values = sample_values()
    auto = render(DEFAULT_TEMPLATES["new_ticket_auto_response"], values).text
    assert len(auto.split()) < 80
    assert values["message"] not in auto
    for key in ("new_ticket_alert", "new_message_alert"):
        text = render(DEFAULT_TEMPLATES[key], values).text
        for name in ("sender.email", "ticket.priority", "ticket.dept", "ticket.subject"):
            assert values[name] in text, (key, name)
        assert "Order reference: A-20931" in text
    overdue = render(DEFAULT_TEMPLATES["overdue_alert"], values).text
    assert "24 hours" in overdue


def test_sample_values_cover_every_variable():
    """So `templates preview` shows every variable filled in."""
    assert set(sample_values()) == set(VARIABLES)
    assert all(sample_values().values())


# --- validation -----------------------------------------------------------------------------


def test_unknown_variable_is_named_with_a_suggestion():
    message = _error(_template(subject="Re: %{ticket.nmber}"))
    assert message == "unknown variable %{ticket.nmber} in subject (did you mean %{ticket.number}?)"


def test_unknown_variable_without_a_close_name():
    assert _error(_template(text="%{weather}")) == "unknown variable %{weather} in text body"


def test_unclosed_variable_shows_where():
    message = _error(_template(html="<p>Hello %{recipient.name, welcome</p>"))
    assert message == 'unclosed %{ in html body at "%{recipient.name, welcome</p>"'


def test_a_brace_later_on_does_not_close_across_lines_or_variables():
    message = _error(_template(text="Dear %{recipient.name\nsee %{url}"))
    assert message.startswith('unclosed %{ in text body at "%{recipient.name see %{url}"')


def test_every_problem_is_reported_at_once():
    message = _error(_template(subject="", html="%{ticket.nmber}", text="%{x"))
    assert message.split("; ") == [
        "subject is empty",
        "unknown variable %{ticket.nmber} in html body (did you mean %{ticket.number}?)",
        'unclosed %{ in text body at "%{x"',
    ]


@pytest.mark.parametrize("written", ["{ticket.number}", "${ticket.number}", "{{ ticket.number }}",
                                     "%(ticket.number)"])
def test_other_variable_syntaxes_are_refused(written):
    """The guide's "Template variables not replacing": say what to write instead."""
    message = _error(_template(text=f"Ticket {written}"))
    assert message == f'"{written}" in text body is not a variable: write %{{ticket.number}}'


def test_double_braces_after_percent_are_explained():
    message = _error(_template(text="%{{url}}"))
    assert message == 'write %{name}, not %{{name}}, in text body at "%{{url}}"'


def test_lone_percent_and_braces_are_literal_text():
    template = _template(text="100% {not a variable} % { } %{url}", html="<style>p{color:red}</style>")
    validate(template)
    rendered = render(template, {"url": "https://x.example/t?number=1"})
    assert rendered.text == "100% {not a variable} % { } https://x.example/t?number=1"
    assert rendered.html == "<style>p{color:red}</style>"


def test_a_variable_the_template_never_gets_is_refused_for_that_key():
    """%{response} in an alert would always render empty."""
    template = _template(text="%{response}")
    validate(template)  # a known variable
    assert _error(template, "new_ticket_alert") == (
        "variable %{response} in text body has no value in new_ticket_alert (it is set in: response)")


def test_unknown_template_key():
    with pytest.raises(UnknownTemplateError, match="unknown template 'welcome'"):
        validate(_template(), "welcome")


# --- rendering ------------------------------------------------------------------------------


def test_values_are_escaped_in_html_and_raw_in_text():
    values = {"ticket.subject": '<script>alert("x")</script> & more'}
    rendered = render(_template(), values)
    assert rendered.html == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more</p>"
    assert rendered.text == '<script>alert("x")</script> & more'
    assert rendered.subject == 'Re: <script>alert("x")</script> & more'


def test_quotes_cannot_break_out_of_an_attribute():
    rendered = render(_template(html='<a title="%{recipient.name}">x</a>'),
                      {"recipient.name": "\" onmouseover='evil()'"})
    assert rendered.html == '<a title="&quot; onmouseover=&#x27;evil()&#x27;">x</a>'


def test_line_breaks_become_br_in_html_only():
    rendered = render(_template(html="<p>%{response}</p>", text="%{response}"),
                      {"response": "Hi Ann,\r\nfixed.\n\nBob"})
    assert rendered.html == "<p>Hi Ann,<br>\nfixed.<br>\n<br>\nBob</p>"
    assert rendered.text == "Hi Ann,\r\nfixed.\n\nBob"


def test_header_injection_through_the_subject_is_removed():
    rendered = render(_template(subject="Re: %{ticket.subject}  "),
                      {"ticket.subject": "Hello\r\nBcc: victim@example.org\n\tX\x00Y\u2028Z"})
    assert rendered.subject == "Re: Hello Bcc: victim@example.org X Y Z"
    assert not re.search(r"[\r\n\x00-\x1f]", rendered.subject)


def test_values_are_not_expanded_again():
    """A client who writes `%{url}` in a subject gets it back as text, not our data."""
    rendered = render(_template(), {"ticket.subject": "about %{ticket.client.email}",
                                    "ticket.client.email": "secret@example.org"})
    assert rendered.text == "about %{ticket.client.email}"


def test_missing_and_none_values_render_empty():
    template = _template(text="[%{ticket.staff}][%{ticket.subject}]")
    assert render(template, {"ticket.subject": None}).text == "[][]"


def test_a_value_for_an_unknown_variable_is_a_sender_bug():
    with pytest.raises(TemplateError, match="values for unknown variables: ticket.asignee"):
        render(_template(), {"ticket.asignee": "Bob"})


# --- ticket URL -----------------------------------------------------------------------------


HELP = "https://help.contoso.example/tickets.php"


@pytest.mark.parametrize("base, expected", [
    (HELP, f"{HELP}?number=108749"),
    (f"{HELP}?lang=en", f"{HELP}?lang=en&number=108749"),
    (f"{HELP}?", f"{HELP}?number=108749"),
    ("http://localhost:7071/tickets.php", "http://localhost:7071/tickets.php?number=108749"),
])
def test_url_uses_the_number_query(base, expected):
    assert build_url(base, "108749") == expected


@pytest.mark.parametrize("base, number", [("tickets.php", "108749"), ("ftp://x.example/t", "108749"),
                                          ("https://x.example/t", "1087&49")])
def test_url_refuses_relative_bases_and_odd_numbers(base, number):
    with pytest.raises(ValueError):
        build_url(base, number)
