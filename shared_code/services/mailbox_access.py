"""Remote mailbox: an account's app registration (tenant id, client id, client secret in Key
Vault), the admin-consent address, and the checks that show the app can really use the mailbox.

The secret is write-only: it goes to Key Vault under a name derived from the address
(`deskmail-<address slug>`, or the name the account already has) and only that name is stored
in the table. With secrets from environment variables (no KEY_VAULT_URL) it cannot be saved.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from urllib.parse import urlencode

from ..domain.graph_permissions import required_permissions
from ..domain.model import EmailAccount, ValidationError
from .accounts import AccountSaved, apply_changes, get_account, update_account
from .helpdesk import Helpdesk

SECRET_PREFIX = "deskmail-"


def secret_name_for(address: str) -> str:
    """The Key Vault name of an account's client secret: letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", address.strip().lower()).strip("-")
    return (SECRET_PREFIX + slug)[:127]


def save_remote_mailbox(desk: Helpdesk, address: str, tenant_id: str, client_id: str,
                        client_secret: str = "", client_secret_name: str | None = None
                        ) -> AccountSaved:
    """Set the app registration; a non-empty `client_secret` is written to Key Vault first (an
    empty one keeps the secret there is). `client_secret_name` names an existing secret (the
    environment variable's name locally); None keeps the account's. Errors name the field."""
    account = get_account(desk, address)
    tenant_id, client_id = (tenant_id or "").strip(), (client_id or "").strip()
    secret_name = (account.client_secret_name if client_secret_name is None
                   else client_secret_name.strip())
    if client_secret:
        if not tenant_id:
            raise ValidationError("tenant id is required with a client secret", "tenant_id")
        if not client_id:
            raise ValidationError("client id is required with a client secret", "client_id")
        if not desk.secrets.writable:
            raise ValidationError(
                "the client secret cannot be saved here: secrets come from environment "
                "variables because KEY_VAULT_URL is not set. Set KEY_VAULT_URL (with the app's "
                "access to the vault), or put the secret in an environment variable and enter "
                "its secret name instead", "client_secret")
        secret_name = secret_name or secret_name_for(account.address)
        # check the other fields before the secret is written, so a refused form writes nothing
        replace(account, tenant_id=tenant_id, client_id=client_id,
                client_secret_name=secret_name).validate()
        desk.secrets.set(secret_name, client_secret)
    elif (tenant_id or client_id) and not secret_name:
        raise ValidationError("a client secret is required with the tenant id and client id",
                              "client_secret")
    elif not (tenant_id or client_id):
        secret_name = ""  # the app registration is removed (the vault keeps the secret)
    return update_account(desk, address, tenant_id=tenant_id, client_id=client_id,
                          client_secret_name=secret_name)


def update_with_remote(desk: Helpdesk, address: str, changes: dict,
                       remote: dict | None = None) -> AccountSaved:
    """The API's PUT: account fields and (optionally) the app registration with its secret.
    The fields are checked first, so a refused change writes no secret."""
    account = get_account(desk, address)
    draft = replace(account)
    apply_changes(draft, changes)
    draft.validate()
    if remote:
        save_remote_mailbox(desk, account.address, **remote)
    return update_account(desk, account.address, **changes)


def consent_url(desk: Helpdesk, account: EmailAccount, redirect_uri: str, state: str) -> str:
    """Where an administrator grants the app admin consent in the account's tenant."""
    if not account.tenant_id:
        raise ValidationError("set the tenant id before Authorize", "tenant_id")
    if not account.client_id:
        raise ValidationError("set the client id before Authorize", "client_id")
    host = desk.settings.authority_host.rstrip("/")
    query = urlencode({"client_id": account.client_id, "redirect_uri": redirect_uri,
                       "state": state})
    return f"{host}/{account.tenant_id}/adminconsent?{query}"


@dataclass
class Check:
    name: str  # credentials | secret | token | permissions | folder
    title: str
    ok: bool | None  # None: not run (an earlier check failed, or not needed)
    detail: str
    fix: str = ""


@dataclass
class AccessReport:
    address: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks)

    def as_dict(self) -> dict:
        return {"address": self.address, "ok": self.ok,
                "checks": [asdict(check) for check in self.checks]}


_TOKEN_FIXES = {
    "AADSTS7000215": "the client secret is wrong: paste the secret's Value (not its Secret ID) "
                     "under Remote mailbox and save",
    "AADSTS7000222": "the client secret has expired: create a new one in the app registration "
                     "and save it under Remote mailbox",
    "AADSTS700016": "the app is not known in this tenant: check the tenant id and client id, "
                    "then Authorize (admin consent adds the app to the tenant)",
    "AADSTS65001": "an administrator has not consented: press Authorize",
    "AADSTS90002": "the tenant does not exist: check the tenant id",
    "AuthorityUnavailable": "the tenant could not be found or the identity platform could not "
                            "be reached: check the tenant id",
}


def _folder_fix(error) -> str:
    if error.code == "FolderNotFound":
        return "check the folder name under Account (e.g. Inbox, or Inbox/Support)"
    if error.status == 403:
        return ("grant the app the Mail.ReadWrite application permission with admin consent "
                "(Authorize); if an application access policy limits the app, include this "
                "mailbox")
    if error.code in ("MailboxNotEnabledForRESTAPI", "ErrorInvalidUser", "ResourceNotFound"):
        return "check that the address is an Exchange Online mailbox in this tenant"
    return "try again; if it persists, see docs/troubleshooting.md"


def verify_access(desk: Helpdesk, address: str, now: datetime | None = None) -> AccessReport:
    """Can the app use this mailbox? Secret, token, the token's roles against what the account
    needs, and (for a fetched account) a listing of its folder; each check says how to fix it."""
    from ..adapters.graph import GraphAuthError, GraphError, granted_roles
    from ..adapters.secret_store import SecretNotFound

    account = get_account(desk, address)
    report = AccessReport(account.address)
    add = report.checks.append
    if not (account.tenant_id and account.client_id and account.client_secret_name):
        add(Check("credentials", "App registration", False, "tenant id, client id or client "
                  "secret missing", "fill in Remote mailbox and save"))
        return _logged(desk, report)
    add(Check("credentials", "App registration", True,
              f"tenant {account.tenant_id}, client {account.client_id}"))
    try:
        graph = desk.mail_client(account)
    except SecretNotFound as error:
        add(Check("secret", "Client secret", False, str(error),
                  "save the client secret under Remote mailbox"))
        return _logged(desk, report)
    add(Check("secret", "Client secret", True, f"{account.client_secret_name} in "
              f"{desk.secrets.source if desk.secrets.writable else 'the environment'}"))
    with graph:
        try:
            token = graph.tokens.token()
        except GraphAuthError as error:
            add(Check("token", "Access token", False, str(error), _TOKEN_FIXES.get(
                error.code, "check the tenant id, client id and secret, then Authorize")))
            return _logged(desk, report)
        add(Check("token", "Access token", True, "a token for Microsoft Graph was issued"))
        roles = granted_roles(token)
        missing = [p for p in required_permissions(account) if not p.granted(roles)]
        granted = ", ".join(sorted(roles)) or "none"
        if missing:
            add(Check("permissions", "Graph permissions", False,
                      f"missing {', '.join(p.name for p in missing)} (granted: {granted})",
                      "in the app registration add the Microsoft Graph application permission"
                      f"{'s' if len(missing) > 1 else ''} " + ", ".join(
                          f"{p.name} ({p.why})" for p in missing) + ", then press Authorize"))
        else:
            add(Check("permissions", "Graph permissions", True, f"granted: {granted}"))
        if not account.fetch_enabled:
            add(Check("folder", "Folder", None, "fetching is off: the folder is not listed"))
            return _logged(desk, report)
        try:
            folder = graph.resolve_folder(account.folder)
            next(iter(graph.list_messages(folder, since=now or datetime.now(timezone.utc), top=1)),
                 None)
        except GraphError as error:
            add(Check("folder", "Folder", False, str(error), _folder_fix(error)))
        else:
            add(Check("folder", "Folder", True, f"{account.folder} of {account.address} can be "
                      "listed"))
    return _logged(desk, report)


def _logged(desk: Helpdesk, report: AccessReport) -> AccessReport:
    failed = [check.title for check in report.checks if check.ok is False]
    desk.syslog.write("info" if report.ok else "warning", "Mailbox access verified",
                      f"{report.address}: " + ("all checks passed" if report.ok else
                                               "failed: " + ", ".join(failed)),
                      account=report.address)
    return report
