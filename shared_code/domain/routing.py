"""Who sends what to whom (the guide's "Email Accounts Overview").

- client auto-responses come from the auto-response account, falling back to the
  department's account, then the system account;
- responses and closed notices come from the ticket's department account (then system);
- staff alerts come from the alert account (then system);
- anything else comes from the system account.
Recipients are named by a role in the notification and resolved here against the
ticket and the directory. Client-facing mail carries Reply-To a fetched account (the
ticket's department account first), so an answer to mail from a send-only account
still reaches the helpdesk.
"""
from __future__ import annotations

from typing import Callable, Iterable

from .model import Department, EmailAccount, Party, Purpose, Staff, Ticket

CLIENT_TEMPLATES = {"new_ticket_auto_response", "response", "ticket_closed"}
STAFF_TEMPLATES = {"new_ticket_alert", "new_message_alert", "assignment_alert",
                   "transfer_alert", "overdue_alert"}
ROLES = {"client", "department_alerts", "assignee_or_department", "staff",
         "assignee_and_manager", "address", "collaborator"}


class RoutingError(LookupError):
    """No account can send this notification, or a role cannot be resolved."""


def _department_account(department: Department | None, ticket_department: str,
                        accounts: list[EmailAccount]) -> EmailAccount | None:
    if department and department.email:
        for account in accounts:
            if account.address == department.email:
                return account
    for account in accounts:
        if account.purpose == Purpose.DEPARTMENT and account.department.lower() == ticket_department.lower():
            return account
    return None


def _by_purpose(purpose: Purpose, accounts: list[EmailAccount]) -> EmailAccount | None:
    return next((a for a in accounts if a.purpose == purpose), None)


def choose_sender(template: str, ticket_department: str, department: Department | None,
                  accounts: Iterable[EmailAccount]) -> EmailAccount:
    """The account a notification is sent from; only accounts with OAuth credentials qualify."""
    usable = sorted((a for a in accounts if a.tenant_id and a.client_id and a.client_secret_name),
                    key=lambda a: a.address)
    dept = _department_account(department, ticket_department, usable)
    system = _by_purpose(Purpose.SYSTEM, usable)
    if template == "new_ticket_auto_response":
        chain = [_by_purpose(Purpose.AUTO_RESPONSE, usable), dept, system]
    elif template in ("response", "ticket_closed"):
        chain = [dept, system]
    elif template in STAFF_TEMPLATES:
        chain = [_by_purpose(Purpose.ALERT, usable), system]
    else:
        chain = [system]
    for account in chain:
        if account is not None:
            return account
    raise RoutingError(f"no email account with OAuth credentials can send {template!r} "
                       f"(department {ticket_department!r}); add a system account")


def collaborators_of(ticket: Ticket) -> list[str]:
    """The ticket's collaborators (lower-case, without its client): who a response reaches
    besides the client (issue 10 §3)."""
    client = (ticket.client.email or "").lower()
    out: list[str] = []
    for address in ticket.collaborators:
        address = (address or "").lower()
        if address and address != client and address not in out:
            out.append(address)
    return out


def resolve_recipients(recipient: dict, ticket: Ticket, department: Department | None,
                       staff_of: Callable[[str], Staff | None]) -> list[Party]:
    """Turn a notification's recipient role into addresses (deduplicated, in order)."""
    role = recipient.get("role", "")

    def staff_party(email: str) -> Party | None:
        """None for a staff member marked inactive: they get no mail."""
        member = staff_of(email)
        if member is not None and not member.active:
            return None
        return Party(member.name if member else "", email)

    def alerts() -> list[Party]:
        if department is None:
            return []
        emails = department.alert_recipients or ([department.manager] if department.manager else [])
        return [staff_party(e) for e in emails]

    if role == "client":
        parties = [ticket.client]
    elif role == "department_alerts":
        parties = alerts()
    elif role == "assignee_or_department":
        assignee = staff_party(ticket.assignee) if ticket.assignee else None
        parties = [assignee] if assignee else alerts()
    elif role == "staff":
        parties = [staff_party(recipient["email"])]
    elif role == "assignee_and_manager":
        parties = [staff_party(e) for e in (ticket.assignee, department.manager if department else "") if e]
        parties = [p for p in parties if p] or alerts()
    elif role == "address":
        parties = [Party(recipient.get("name", ""), recipient["email"])]
    elif role == "collaborator":  # only while still one: a removed collaborator gets nothing
        email = str(recipient.get("email", ""))
        parties = [Party("", email)] if email.lower() in collaborators_of(ticket) else []
    else:
        raise RoutingError(f"unknown recipient role {role!r}")
    seen: set[str] = set()
    unique = []
    for party in parties:
        if party is not None and party.email and party.email.lower() not in seen:
            seen.add(party.email.lower())
            unique.append(party)
    return unique


def reply_to_account(template: str, ticket_department: str, department: Department | None,
                     accounts: Iterable[EmailAccount], sender: EmailAccount) -> EmailAccount | None:
    """The account an answer should go to: a fetched one — the ticket's department account,
    else the sender itself, else any fetched department or system account. For staff alerts
    too: staff answer a ticket by replying to its alert (issue 10 §4). None when no account
    is fetched at all."""
    fetched = sorted((a for a in accounts if a.can_fetch), key=lambda a: a.address)
    chain = [_department_account(department, ticket_department, fetched),
             sender if sender.can_fetch else None,
             _by_purpose(Purpose.DEPARTMENT, fetched), _by_purpose(Purpose.SYSTEM, fetched)]
    return next((account for account in chain if account is not None), None)


def client_mail_unanswerable(account: EmailAccount, accounts: Iterable[EmailAccount]) -> bool:
    """True when `account` may send client mail (auto-response, department, system) but is not
    fetched and no fetched account exists for a Reply-To: clients' answers would be lost."""
    if account.purpose == Purpose.ALERT or account.can_fetch:
        return False
    return not any(a.can_fetch for a in accounts if a.address != account.address)
