"""Admin → Emails in the browser: add an account (field errors next to the field), give it its
remote mailbox, press Test fetch and see Last Fetch change; see the stale warning."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.helpers import SUPPORT, make_mail, run_cli

from .conftest import ADMIN, AGENT, quiet, screenshots_wanted, sign_in

NEW = "helpdesk@contoso.example"
BILLING = "billing@contoso.example"
VAULT_READER = {"tenant": "contoso-tenant", "client_id": "deskmail-vault-reader", "secret": "vault-reader-secret"}


@pytest.fixture
def vault(live_app, cloud, monkeypatch):
    """Secrets in the Key Vault fake, read and written with DefaultAzureCredential as in Azure
    (the remote-mailbox form refuses to save a secret without KEY_VAULT_URL)."""
    cloud.identity.register_app(VAULT_READER["tenant"], VAULT_READER["client_id"], VAULT_READER["secret"])
    for name, value in (("KEY_VAULT_URL", cloud.key_vault_url),
                        ("AZURE_TENANT_ID", VAULT_READER["tenant"]),
                        ("AZURE_CLIENT_ID", VAULT_READER["client_id"]),
                        ("AZURE_CLIENT_SECRET", VAULT_READER["secret"]),
                        ("HTTPS_PROXY", "http://127.0.0.1:9"), ("NO_PROXY", "localhost,127.0.0.1")):
        monkeypatch.setenv(name, value)
    return cloud.keyvault


# the name of the last visible form control before an element, in document order
PRECEDING_FIELD = """e => {
  const controls = [...e.closest('form').querySelectorAll('input:not([type=hidden]), select, textarea')];
  const before = controls.filter(c => c.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
  return before.length ? before[before.length - 1].name : null;
}"""


def _last_fetch(page, address: str) -> str:
    page.goto("/admin/emails")
    return page.locator(f'tr[data-address="{address}"] .last-fetch').inner_text().strip()


def _submit(page, button: str) -> None:
    with page.expect_navigation():
        page.click(button)


def test_admin_adds_an_account_and_test_fetch_changes_last_fetch(page, live_app, vault, mailbox_app):
    live_app.graph.add_mailbox(NEW)
    live_app.graph.add_message(NEW, make_mail(to=NEW, subject="Cannot log in")[0])
    sign_in(page, ADMIN, next="/admin/emails")
    page.goto("/admin/emails/new")
    form = page.locator("#account-form")
    # the browser's own type=email check lets this through; deskmail's rule needs a dotted domain
    form.locator("[name=address]").fill("helpdesk@contoso")
    form.locator("[name=name]").fill("Contoso Helpdesk")
    form.locator("[name=purpose]").select_option("department")
    form.locator("[name=department]").fill("Support")
    form.locator("[name=priority]").select_option("normal")
    _submit(page, "#account-save")
    error = page.locator("#error-address")
    assert error.is_visible() and error.inner_text().strip(), page.content()
    # the message sits next to its field: the form control just before it is the address
    assert error.evaluate(PRECEDING_FIELD) == "address"
    assert page.locator("#account-form [name=name]").input_value() == "Contoso Helpdesk"

    page.locator("#account-form [name=address]").fill(NEW)
    _submit(page, "#account-save")
    assert page.locator("#error-address").count() == 0
    assert _last_fetch(page, NEW).lower() == "never"

    page.goto(f"/admin/emails/{NEW}")
    assert page.locator("#last-fetch").inner_text().strip().lower() == "never"
    remote = page.locator("#remote-form")
    remote.locator("[name=tenant_id]").fill(mailbox_app["tenant_id"])
    remote.locator("[name=client_id]").fill(mailbox_app["client_id"])
    remote.locator("[name=client_secret]").fill(mailbox_app["secret"])
    _submit(page, "#remote-save")
    assert mailbox_app["secret"] not in page.content()
    assert page.locator("#remote-form [name=client_secret]").input_value() == ""

    page.goto(f"/admin/emails/{NEW}")
    _submit(page, "#test-fetch")
    result = page.locator("#test-fetch-result")
    assert result.is_visible()
    assert "created 1" in result.inner_text() and "errors 0" in result.inner_text(), result.inner_text()
    shown = result.locator(".last-fetch").inner_text().strip()
    assert shown.lower() != "never" and any(ch.isdigit() for ch in shown), shown
    after = _last_fetch(page, NEW)
    assert after.lower() != "never" and any(ch.isdigit() for ch in after), after
    assert [t.subject for t in live_app.desk.tickets.list()] == ["Cannot log in"]
    # the refused form was the only answer >= 400
    assert quiet(page) == [] and page.failed == [f"422 {live_app.url}/admin/emails/new"], page.failed


def test_the_emails_page_warns_when_last_fetch_is_older_than_the_limit(page, live_app, mailbox_app):
    """FETCH_STALE_MINUTES is 5 (the default): one account fetched now, one 30 minutes ago."""
    from shared_code.services.fetch import fetch_all

    live_app.graph.add_mailbox(BILLING)
    assert run_cli("emails", "add", "--address", BILLING, "--name", "Contoso Billing", "--purpose",
                   "department", "--department", "Billing", "--tenant-id", mailbox_app["tenant_id"],
                   "--client-id", mailbox_app["client_id"], "--client-secret-name",
                   mailbox_app["client_secret_name"])[0] == 0
    fetch_all(live_app.desk)
    accounts = live_app.desk.accounts
    billing = accounts.get(BILLING)
    billing.last_fetch = datetime.now(timezone.utc) - timedelta(minutes=30)
    accounts.save_fetch_state(billing)

    sign_in(page, ADMIN, next="/admin/emails")
    stale = page.locator(f'tr[data-address="{BILLING}"] .stale')
    assert stale.is_visible() and "stale" in stale.inner_text().lower()
    fresh = page.locator(f'tr[data-address="{SUPPORT}"]')
    assert fresh.locator(".stale").count() == 0
    assert any(ch.isdigit() for ch in fresh.locator(".last-fetch").inner_text())
    assert quiet(page) == [] and page.failed == [], (page.reports, page.failed)
    if folder := screenshots_wanted():
        page.set_viewport_size({"width": 1280, "height": 480})  # the page, not an empty window
        page.screenshot(path=str(folder / "emails.png"), full_page=True)


def test_authorize_runs_admin_consent_and_shows_the_access_checks(page, live_app, identity):
    """The guide's Step 2: Authorize goes to Microsoft Entra admin consent (the identity fake),
    comes back with `state`, and the page shows each access check."""
    sign_in(page, ADMIN, next=f"/admin/emails/{SUPPORT}")
    with page.expect_navigation(url=lambda url: "/admin/emails/consent" in url or "error" in url):
        page.click("#authorize")
    assert [grant[:2] for grant in identity.consents] == [("contoso-tenant", "deskmail-app")]
    assert "Admin consent was granted" in page.locator("#consent-result").inner_text()
    checks = page.locator("#access-result li.check")
    assert checks.count() >= 3
    assert checks.evaluate_all("items => items.map(i => i.className)") == ["check ok"] * checks.count(), \
        page.locator("#access-result").inner_text()
    assert quiet(page) == [] and page.failed == [], (page.reports, page.failed)


def test_staff_who_open_the_emails_page_see_no_access(page, live_app):
    sign_in(page, AGENT, next="/admin/emails")
    assert page.locator("h1").inner_text() == "No access"
    assert page.locator("#accounts").count() == 0
