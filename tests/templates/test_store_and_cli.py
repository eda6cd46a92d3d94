"""Stored templates on Azurite (built-in → default → department) and `templates ...` in the CLI."""
from __future__ import annotations

import pytest

from shared_code.adapters.storage import StorageConnection
from shared_code.adapters.template_store import TemplateStore
from shared_code.domain.templates import (
    DEFAULT_TEMPLATES,
    TEMPLATE_KEYS,
    Template,
    TemplateError,
    UnknownTemplateError,
)
from tests.integration.helpers import run_cli

CUSTOM = Template(subject="Thanks: %{ticket.subject}", html="<p>Got it, %{recipient.name}.</p>",
                  text="Got it, %{recipient.name}.")
SUPPORT_ONLY = Template(subject="Support got: %{ticket.subject}", html="<p>Support</p>",
                        text="Support")


@pytest.fixture
def store(storage) -> TemplateStore:
    return TemplateStore(StorageConnection({"AzureWebJobsStorage": storage}))


def test_precedence_built_in_then_default_then_department(store):
    key = "new_ticket_auto_response"
    assert store.resolve(key, "Support") == (DEFAULT_TEMPLATES[key], "built-in")

    store.set(key, CUSTOM)
    assert store.resolve(key) == (CUSTOM, "default")
    assert store.resolve(key, "Support") == (CUSTOM, "default")

    store.set(key, SUPPORT_ONLY, "Support")
    assert store.resolve(key, "support") == (SUPPORT_ONLY, "Support")
    assert store.get(key, "Sales") == CUSTOM
    assert store.get(key) == CUSTOM
    assert store.get("response", "Support") == DEFAULT_TEMPLATES["response"]

    assert store.reset(key, "SUPPORT") is True
    assert store.resolve(key, "Support") == (CUSTOM, "default")
    assert store.reset(key) is True
    assert store.get(key, "Support") == DEFAULT_TEMPLATES[key]
    assert store.reset(key) is False


def test_list_names_each_templates_source(store):
    store.set("response", CUSTOM)
    store.set("ticket_closed", SUPPORT_ONLY, "Support")
    store.set("response", SUPPORT_ONLY, "Sales")
    listing = dict(store.list("Support"))
    assert list(listing) == list(TEMPLATE_KEYS)
    assert (listing["response"], listing["ticket_closed"], listing["new_ticket_alert"]) == (
        "default", "Support", "built-in")
    assert dict(store.list())["ticket_closed"] == "built-in"


def test_a_department_called_default_is_not_the_default(store):
    """Overrides live in their own partition, so this name cannot replace every department's."""
    store.set("response", SUPPORT_ONLY, "Default")
    assert store.resolve("response", "default") == (SUPPORT_ONLY, "Default")
    assert store.resolve("response") == (DEFAULT_TEMPLATES["response"], "built-in")


def test_set_refuses_invalid_templates_unknown_keys_and_oversize_text(store):
    with pytest.raises(TemplateError, match=r"unknown variable %\{ticket.nmber\} in subject"):
        store.set("response", Template("Re: %{ticket.nmber}", "<p>x</p>", "x"))
    with pytest.raises(UnknownTemplateError, match="unknown template 'welcome'"):
        store.set("welcome", CUSTOM)
    # 20,000 emoji are 40,000 UTF-16 units: over Table Storage's property limit
    with pytest.raises(TemplateError, match="html body is 40,000 characters; the limit is 30,000"):
        store.set("response", Template("Re: %{ticket.subject}", "\U0001F600" * 20_000, "x"))
    assert store.list() == [(key, "built-in") for key in TEMPLATE_KEYS]


def test_long_templates_up_to_the_limit_round_trip(store):
    big = Template("Re: %{ticket.subject}", "<p>" + "x" * 29_990 + "</p>", "é" * 30_000)
    store.set("response", big)
    assert store.get("response") == big


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def support(app_env):
    """The CLI on Azurite, with a department Support it can customise templates for."""
    assert run_cli("departments", "add", "Support")[0] == 0
    return "Support"


def test_cli_set_show_preview_reset(support, tmp_path, capsys):
    html = tmp_path / "reply.html"
    html.write_text("<p>%{response}</p><p>%{staff.name}, <b>%{ticket.dept}</b></p>", "utf-8")
    code, saved = run_cli("templates", "set", "response", "--department", "support",
                          "--subject", "Answer: %{ticket.subject}", "--html-file", str(html), "--json")
    assert code == 0
    assert (saved["department"], saved["source"], saved["subject"]) == ("Support", "Support",
                                                                        "Answer: %{ticket.subject}")
    assert saved["text"] == DEFAULT_TEMPLATES["response"].text  # kept from the effective one

    code, shown = run_cli("templates", "show", "response", "--department", "Support", "--json")
    assert code == 0 and shown["html"] == html.read_text("utf-8") and shown["source"] == "Support"
    assert shown["sent_when"].startswith("a staff member replies")
    code, text = run_cli("templates", "show", "response", "--department", "Support")
    assert code == 0 and text.startswith("response (Response/Reply, to client) for Support: Support\n")
    assert run_cli("templates", "show", "response", "--json")[1]["source"] == "built-in"

    code, preview = run_cli("templates", "preview", "response", "--department", "Support", "--json")
    assert code == 0
    assert preview["subject"] == "[#108749] Answer: Checkout page error"
    assert preview["html"].startswith("<p>Hi Ann,<br>\n") and "<b>Support</b>" in preview["html"]

    code, text = run_cli("templates", "reset", "response", "--department", "Support")
    assert code == 0 and text == "reset response for Support: now uses built-in\n"
    assert run_cli("templates", "reset", "response", "--department", "Support")[0] == 1
    assert "response has no stored template for Support" in capsys.readouterr().err


def test_cli_list_shows_sources(support):
    assert run_cli("templates", "set", "overdue_alert", "--subject", "SLA: %{ticket.subject}")[0] == 0
    code, rows = run_cli("templates", "list", "--department", "Support", "--json")
    assert code == 0
    assert [r["key"] for r in rows] == list(TEMPLATE_KEYS)
    overdue = next(r for r in rows if r["key"] == "overdue_alert")
    assert overdue == {"key": "overdue_alert", "title": "Overdue Alert", "audience": "staff",
                       "source": "default"}
    code, text = run_cli("templates", "list")
    assert code == 0 and "overdue_alert" in text and "Overdue Alert" in text


def test_cli_validation_errors_name_the_problem(support, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("Hello %{recipient.nam}", "utf-8")
    assert run_cli("templates", "set", "ticket_closed", "--text-file", str(bad))[0] == 1
    assert capsys.readouterr().err == (
        "error: unknown variable %{recipient.nam} in text body (did you mean %{recipient.name}?)\n")

    assert run_cli("templates", "set", "ticket_closed", "--department", "Suport",
                   "--subject", "Closed")[0] == 1
    assert "no department Suport (known: Support)" in capsys.readouterr().err
    assert run_cli("templates", "set", "ticket_closed")[0] == 1
    assert "nothing to change" in capsys.readouterr().err
    assert run_cli("templates", "show", "welcome")[0] == 2
    assert "invalid choice: 'welcome'" in capsys.readouterr().err
    assert run_cli("templates", "show", "ticket_closed", "--json")[1]["source"] == "built-in"


def test_preview_uses_the_ticket_url_base(support, monkeypatch):
    monkeypatch.setenv("TICKET_URL_BASE", "https://help.contoso.example/tickets.php")
    code, preview = run_cli("templates", "preview", "new_ticket_auto_response", "--json")
    assert code == 0
    assert "https://help.contoso.example/tickets.php?number=108749" in preview["text"]
    assert preview["subject"] == "[#108749] Re: Checkout page error"
