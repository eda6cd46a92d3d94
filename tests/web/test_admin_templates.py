"""Admin → Emails → Templates, the pages and `/api/v1/templates`: the eight templates, editing
with each validation message next to its field, reset, and preview against a real ticket
(created through the fetch pipeline) or the sample ticket."""
from __future__ import annotations

import html

from shared_code.domain.templates import DEFAULT_TEMPLATES, TEMPLATE_KEYS
from tests.integration.helpers import SUPPORT, make_mail

from .conftest import api_post, form_post


def _ticket(desk, graph, subject="Printer <b>on</b> fire"):
    from shared_code.services.fetch import fetch_all

    graph.add_message(SUPPORT, make_mail(subject=subject, body="Paper jam & smoke.")[0])
    fetch_all(desk)
    [ticket] = desk.tickets.list()
    return ticket


def _form(key: str, **parts) -> dict:
    default = DEFAULT_TEMPLATES[key]
    return {"subject": default.subject, "html": default.html, "text": default.text, **parts}


# ---------------------------------------------------------------- pages

def test_the_list_shows_the_eight_templates_and_where_each_comes_from(as_admin, desk):
    from shared_code.domain.model import Department

    desk.directory.add_department(Department(name="Sales"))
    page = as_admin.get("/admin/templates")
    assert page.status_code == 200
    assert page.text.count("<tr data-key=") == 8 and all(k in page.text for k in TEMPLATE_KEYS)
    assert "Ticket Assignment Alert" in page.text and "a ticket is assigned" in page.text
    assert ">default</td>" in page.text and "customised" not in page.text.split("<table")[1].split("</table>")[0]

    form_post(as_admin, "/admin/templates/ticket_closed", _form("ticket_closed", subject="Done: %{ticket.subject}"))
    form_post(as_admin, "/admin/templates/response", {**_form("response"), "department": "sales"})
    listed = as_admin.get("/admin/templates?department=Sales").text
    row = {key: listed.split(f'data-key="{key}"')[1].split("</tr>")[0] for key in TEMPLATE_KEYS}
    assert ">customised</td>" in row["ticket_closed"]
    assert "department override (Sales)" in row["response"]
    assert ">default</td>" in row["overdue_alert"]
    assert 'value="Sales" selected' in listed


def test_edit_page_shows_the_parts_and_variables_and_saves(as_admin, desk):
    page = as_admin.get("/admin/templates/assignment_alert")
    assert page.status_code == 200
    assert html.escape(DEFAULT_TEMPLATES["assignment_alert"].subject, quote=True) in page.text
    assert "<code>%{ticket.number}</code>" in page.text and "<code>%{staff.name}</code>" in page.text
    assert "<code>%{response}</code>" not in page.text  # only this template's variables

    saved = form_post(as_admin, "/admin/templates/assignment_alert",
                      _form("assignment_alert", subject="Yours now: %{ticket.subject}"))
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/templates/assignment_alert?done=saved"
    after = as_admin.get(saved.headers["location"])
    assert "Template saved." in after.text and 'value="Yours now: %{ticket.subject}"' in after.text
    assert desk.templates.get("assignment_alert").subject == "Yours now: %{ticket.subject}"
    assert as_admin.get("/admin/templates/no_such_template").status_code == 404


def test_save_refuses_unknown_variables_with_a_suggestion_and_unclosed_braces(as_admin, desk):
    answer = form_post(as_admin, "/admin/templates/ticket_closed", _form(
        "ticket_closed", subject="Closed: %{ticket.subjct}", html="<p>Hi %{recipient.name</p>",
        text="Bye %{sla.hours}"))
    assert answer.status_code == 422
    errors = {field: html.unescape(answer.text.split(f'id="error-{field}">')[1].split("</span>")[0])
              for field in ("subject", "html", "text")}
    assert errors["subject"] == ("unknown variable %{ticket.subjct} in subject "
                                 "(did you mean %{ticket.subject}?)")
    assert errors["html"].startswith("unclosed %{ in html body at")
    assert "variable %{sla.hours} in text body has no value in ticket_closed" in errors["text"]
    assert 'value="Closed: %{ticket.subjct}"' in answer.text  # the values are kept
    assert "Hi %{recipient.name&lt;/p&gt;" in answer.text
    assert 'aria-describedby="error-text">\nBye %{sla.hours}</textarea>' in answer.text  # first newline is the parser's
    assert desk.templates.resolve("ticket_closed")[1] == "built-in"  # nothing stored


def test_a_body_over_the_storage_limit_is_refused_next_to_its_field(as_admin, desk):
    from shared_code.domain.limits import MAX_INLINE_CHARS

    answer = form_post(as_admin, "/admin/templates/response",
                       _form("response", text="x" * (MAX_INLINE_CHARS + 1)))
    assert answer.status_code == 422
    assert f"text body is {MAX_INLINE_CHARS + 1:,} characters" in answer.text.split('id="error-text">')[1]
    api = as_admin.put("/api/v1/templates/response", headers={"X-CSRF-Token": as_admin.csrf},
                       json={"html": "y" * (MAX_INLINE_CHARS + 1)})
    assert api.status_code == 422 and api.json()["field"] == "html"


def test_reset_goes_back_to_the_default(as_admin, desk):
    form_post(as_admin, "/admin/templates/response", _form("response", subject="Answer: %{ticket.subject}"))
    reset = form_post(as_admin, "/admin/templates/response/reset")
    assert reset.status_code == 303 and reset.headers["location"].endswith("done=reset")
    assert "the default is in use again" in as_admin.get(reset.headers["location"]).text
    assert desk.templates.resolve("response")[1] == "built-in"
    nothing = form_post(as_admin, "/admin/templates/response/reset")
    assert "Nothing to reset" in as_admin.get(nothing.headers["location"]).text


def test_preview_with_the_sample_ticket_a_real_ticket_and_an_unsaved_draft(as_admin, desk, graph):
    sample = as_admin.get("/admin/templates/new_ticket_auto_response?preview=1")
    assert sample.status_code == 200
    assert '<span id="preview-subject">[#108749] Re: Checkout page error</span>' in sample.text
    frame = sample.text.split("<iframe")[1].split(">")[0]
    assert "sandbox " in frame and "allow-scripts" not in frame and "srcdoc=" in frame

    ticket = _ticket(desk, graph)
    real = as_admin.get(f"/admin/templates/ticket_closed?ticket={ticket.number}")
    assert real.status_code == 200 and f"saved template (ticket #{ticket.number})" in real.text
    subject = real.text.split('<span id="preview-subject">')[1].split("</span>")[0]
    assert html.unescape(subject) == f"[#{ticket.number}] Closed: Printer <b>on</b> fire"
    # the ticket's values are escaped in the HTML body, and that HTML is an attribute value
    srcdoc = html.unescape(real.text.split('srcdoc="')[1].split('"')[0])
    assert "Printer &lt;b&gt;on&lt;/b&gt; fire" in srcdoc and "<b>on</b>" not in srcdoc
    assert f"Your ticket #{ticket.number}" in real.text.split('id="preview-text">')[1]

    draft = form_post(as_admin, "/admin/templates/new_message_alert", _form(
        "new_message_alert", text="Client said: %{message}", action="preview", ticket=ticket.number))
    assert draft.status_code == 200 and "unsaved draft (ticket #" in draft.text
    assert "Client said: Paper jam &amp; smoke." in draft.text
    assert desk.templates.resolve("new_message_alert")[1] == "built-in"  # a preview saves nothing

    missing = as_admin.get("/admin/templates/response?ticket=999999")
    assert missing.status_code == 422 and "no ticket #999999" in missing.text
    assert 'id="error-ticket"' in missing.text


# ---------------------------------------------------------------- API

def test_template_api_lists_gets_changes_resets_and_previews(as_admin, desk, graph):
    csrf = {"X-CSRF-Token": as_admin.csrf}
    listed = as_admin.get("/api/v1/templates").json()
    assert [t["key"] for t in listed] == list(TEMPLATE_KEYS)
    assert listed[0] == {"key": "new_ticket_auto_response", "title": "New Ticket Auto-Response",
                         "audience": "client", "sent_when": "a client's mail opens a new ticket",
                         "source": "built-in"}
    one = as_admin.get("/api/v1/templates/overdue_alert").json()
    assert one["subject"] == DEFAULT_TEMPLATES["overdue_alert"].subject
    assert {"name": "sla.hours", "meaning": "the department's SLA grace hours"} in one["variables"]

    changed = as_admin.put("/api/v1/templates/overdue_alert", headers=csrf,
                           json={"subject": "Late: %{ticket.subject}"})
    assert changed.status_code == 200 and changed.json()["source"] == "default"
    assert changed.json()["html"] == DEFAULT_TEMPLATES["overdue_alert"].html  # kept

    bad = as_admin.put("/api/v1/templates/overdue_alert", headers=csrf,
                       json={"text": "%{ticket.numbr"})
    assert bad.status_code == 422 and bad.json()["field"] == "text"
    assert "unclosed %{ in text body" in bad.json()["error"]
    typo = as_admin.put("/api/v1/templates/overdue_alert", headers=csrf,
                        json={"html": "<p>%{ticket.numbr}</p>"})
    assert typo.json() == {"error": "unknown variable %{ticket.numbr} in html body "
                                    "(did you mean %{ticket.number}?)", "field": "html"}
    nowhere = as_admin.put("/api/v1/templates/overdue_alert", headers=csrf,
                           json={"subject": "x", "department": "Nowhere"})
    assert nowhere.status_code == 422 and nowhere.json()["field"] == "department"
    assert as_admin.get("/api/v1/templates/nope").status_code == 422

    sample = api_post(as_admin, "/api/v1/templates/overdue_alert/preview", {})
    assert sample.status_code == 200
    assert sample.json()["sample"] is True and sample.json()["subject"] == "[#108749] Late: Checkout page error"
    ticket = _ticket(desk, graph)
    real = api_post(as_admin, "/api/v1/templates/overdue_alert/preview", {"ticket": ticket.number})
    assert real.json()["ticket"] == ticket.number and real.json()["sample"] is False
    assert real.json()["subject"] == f"[#{ticket.number}] Late: Printer <b>on</b> fire"
    assert "Printer &lt;b&gt;on&lt;/b&gt; fire" in real.json()["html"]
    draft = api_post(as_admin, "/api/v1/templates/overdue_alert/preview",
                     {"subject": "%{ticket.client.email}"})
    assert draft.json()["subject"] == "[#108749] ann@example.org" and draft.json()["source"] == "draft"
    missing = api_post(as_admin, "/api/v1/templates/overdue_alert/preview", {"ticket": "12"})
    assert missing.status_code == 422 and missing.json()["field"] == "ticket"

    reset = as_admin.delete("/api/v1/templates/overdue_alert", headers=csrf)
    assert reset.json() == {"key": "overdue_alert", "department": "", "source": "built-in"}
    again = as_admin.delete("/api/v1/templates/overdue_alert", headers=csrf)
    assert again.status_code == 404 and "has no stored template" in again.json()["error"]


def test_the_cli_uses_the_same_validation_and_preview(desk, graph, tmp_path):
    from tests.integration.helpers import run_cli

    ticket = _ticket(desk, graph)
    code, shown = run_cli("templates", "preview", "response", "--ticket", ticket.number, "--json")
    assert code == 0 and shown["subject"] == f"[#{ticket.number}] Re: Printer <b>on</b> fire"
    assert run_cli("templates", "set", "response", "--subject", "%{ticket.subjet}")[0] == 1
    assert desk.templates.resolve("response")[1] == "built-in"
