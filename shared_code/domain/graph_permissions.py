"""Which Microsoft Graph application permissions an account's app registration needs.

Every purpose sends mail (department: responses; system: notifications; alert: staff alerts;
auto-response: auto-responses), so every account needs Mail.Send. A fetched account lists
its folder, downloads mail and marks it read: Mail.ReadWrite. A send-only account still reads
its Sent Items before resending a mail whose first attempt is uncertain: Mail.Read (which
Mail.ReadWrite includes). docs/web.md has the table.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model import EmailAccount


@dataclass(frozen=True)
class Permission:
    name: str  # the application permission to grant (Microsoft Graph → Application permissions)
    why: str
    satisfied_by: tuple[str, ...]  # granted roles that cover it

    def granted(self, roles: set[str]) -> bool:
        return any(role in roles for role in self.satisfied_by)


SEND = Permission("Mail.Send", "send mail as this mailbox", ("Mail.Send",))
FETCH = Permission("Mail.ReadWrite", "fetch: list and read the folder, mark mail read",
                   ("Mail.ReadWrite",))
SENT_ITEMS = Permission("Mail.Read", "look in Sent Items before resending an uncertain send",
                        ("Mail.Read", "Mail.ReadWrite"))


def required_permissions(account: EmailAccount) -> list[Permission]:
    return [FETCH if account.fetch_enabled else SENT_ITEMS, SEND]
