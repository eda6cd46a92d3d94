"""Unit tests of the inbound pipeline: each rule of shared_code/pipeline called on its own.

Storage is a real Azurite (through the `desk` fixture of conftest.py); mails are small MIME
messages composed here with `email.message.EmailMessage` and parsed by the real `parse_mail`.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from shared_code.domain.mail import parse_mail
from shared_code.domain.model import EmailAccount, Priority, Purpose
from shared_code.pipeline import RULES, InboundMail, PipelineContext
from shared_code.pipeline.store import ticket_or_message

SUPPORT = "support@contoso.example"
SALES = "sales@contoso.example"
ANN = "Ann Client <ann@example.org>"
ANN_ADDRESS = "ann@example.org"


class SimulatedCrash(BaseException):
    """Raised from the checkpoint hook: like a kill, no `except Exception` catches it."""


def crash_at(step: str, occurrence: int = 1):
    seen = {"count": 0}

    def checkpoint(name: str, mail: str) -> None:
        if name == step:
            seen["count"] += 1
            if seen["count"] == occurrence:
                raise SimulatedCrash(step)

    return checkpoint


def support_account(**changes) -> EmailAccount:
    fields = dict(address=SUPPORT, name="Contoso Support", purpose=Purpose.DEPARTMENT,
                  department="Support", priority=Priority.HIGH, auto_response=True)
    fields.update(changes)
    return EmailAccount(**fields)


def compose(subject: str = "Printer on fire", sender: str | None = ANN, to: str = SUPPORT,
            body: str = "Hello, the printer is on fire.", *, html: str | None = None,
            message_id: str | None | bool = None, in_reply_to: str | None = None,
            references: str | None = None, cc: str | None = None,
            headers: dict[str, str] | None = None,
            attachments: list[tuple[str, str, bytes]] = (),
            related: list[tuple[str, str, bytes, str]] = ()) -> bytes:
    """A small mail as raw bytes.

    message_id: None makes a fresh one, False leaves the header out, a string is used as given.
    attachments: (filename, content type, data); related: (filename, content type, data, cid)
    inline parts of the HTML body (needs `html`).
    """
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 27, 2, 3, 4, tzinfo=timezone.utc))
    if message_id is None:
        message_id = make_msgid(domain="example.org")
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        if related:
            html_part = msg.get_payload()[1]
            for filename, ctype, data, cid in related:
                maintype, subtype = ctype.split("/", 1)
                html_part.add_related(data, maintype=maintype, subtype=subtype,
                                      cid=f"<{cid}>", filename=filename)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def inbound(raw: bytes, account: EmailAccount | None = None, graph_id: str | None = None,
            received: datetime | None = None) -> InboundMail:
    """The InboundMail the fetch would build for `raw`."""
    account = account or support_account()
    return InboundMail(
        account=account,
        graph_id=graph_id or f"AAMk-{uuid.uuid4().hex}",
        received=received or datetime.now(timezone.utc).replace(microsecond=0),
        raw_blob=f"{account.address}/2026/11/27/{uuid.uuid4().hex}.eml",
        parsed=parse_mail(raw),
    )


def make_ctx(desk, **changes) -> PipelineContext:
    """The context the fetch builds (services/fetch.py `_pipeline_context`), with changes."""
    fields = dict(
        settings=desk.settings, index=desk.index, tickets=desk.tickets, blobs=desk.blobs,
        queues=desk.queues, syslog=desk.syslog,
        system_addresses=desk.accounts.system_addresses(),
    )
    fields.update(changes)
    return PipelineContext(**fields)


def queued_notifications(desk) -> list[dict]:
    """The notifications on `outbound-mail`, in order, out of their batch messages."""
    from shared_code.adapters.names import OUTBOUND_MAIL
    from shared_code.domain.notifications import unbatch

    return [n for message in desk.queues.peek_all(OUTBOUND_MAIL) for n in unbatch(message)]


def run_rules_before(rule, mail: InboundMail, ctx: PipelineContext) -> InboundMail:
    """Run the rules that precede `rule` in RULES, as run_pipeline would; none may decide."""
    for earlier in RULES[:RULES.index(rule)]:
        earlier(mail, ctx)
        assert mail.outcome is None, f"{earlier.__name__} decided {mail.outcome}: {mail.reason}"
    return mail


def store_mail(raw: bytes, ctx: PipelineContext, **inbound_args) -> InboundMail:
    """Rules 1-6 on a mail: the state notifications and later rules see."""
    mail = run_rules_before(ticket_or_message, inbound(raw, **inbound_args), ctx)
    ticket_or_message(mail, ctx)
    return mail
