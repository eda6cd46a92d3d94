"""Auto-reply, bounce and mailing-list detection: mail that must not become a ticket.

Each rule is a small named predicate; RULES lists them in the order they are tried and
`detect_auto_reply` returns the name of the first that matches, so every discarded mail can be
logged with the reason. Rules come from the product spec's table, plus the signals used by other
helpdesks (osTicket, Zammad, FreeScout, RT; see notes/peer-helpdesks.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .mail import ParsedMail, normalize_message_id, parse_mail

# --- helpers --------------------------------------------------------------------------------


def _has(mail: ParsedMail, *names: str) -> bool:
    """True when any of the headers is present, whatever its value (even empty)."""
    return any(name.lower() in mail.headers for name in names)


def _keyword(value: str) -> str:
    """'auto-replied; vacation' / 'Auto-Generated (failure)' -> 'auto-replied' / 'auto-generated'."""
    return re.split(r"[;(\s]", value.strip().lower(), maxsplit=1)[0]


_BOUNCE_LOCAL_PARTS = re.compile(r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|post[-_]master)$", re.I)


def _sender_local_part(mail: ParsedMail) -> str:
    """Local part of the sender; also for From lines without a domain ('<MAILER-DAEMON>')."""
    address = mail.from_address
    if not address:
        raw = mail.header("from") or ""
        match = re.search(r"<([^<>@]*)(?:@[^<>]*)?>", raw) or re.search(r"([^\s<>\"@]+)(?:@\S*)?\s*$", raw)
        address = match.group(1) if match else ""
    return address.split("@", 1)[0].strip().lower()


# --- subjects -------------------------------------------------------------------------------

# Reply/forward prefixes of many clients and languages, optionally counted ("RE[2]:", "AW(3):"),
# and "[tags]" such as "[#108749]" or "[EXTERNAL]". Stripped repeatedly from the start.
PREFIX_WORDS = "re|aw|wg|sv|fw|fwd|tr|r|antw|vs|rv|enc|réf|ref|rif|ynt|doorst|odp|pd|vl|atb"


def subject_prefix(words: str = PREFIX_WORDS) -> re.Pattern[str]:
    """One reply/forward prefix (of `words`) or one [tag], at the start of a subject."""
    return re.compile(rf"^\s*(?:\[[^\]]{{0,80}}\]\s*|(?:{words})\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)",
                      re.I)


_PREFIX = subject_prefix()

SUBJECT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        # Only conventional wordings, anchored at the start: a person's "Absence request" or
        # "Re: my out-of-office settings are broken" must still become a ticket.
        ("subject:out-of-office", r"^(?:out of (?:the )?office\b(?! (?:settings|assistant|rule))|"
                                  r"abwesenheitsnotiz|abwesenheitsnachricht|absence du bureau|"
                                  r"fuera de la oficina|fora do escritório|fuori ufficio|afwezigheidsbericht)"),
        ("subject:automatic-reply", r"^(?:automatic reply|auto[- ]?reply|auto[- ]?response|"
                                    r"automatische antwort|automatisch antwoord|"
                                    r"r[ée]ponse automatique|respuesta autom[aá]tica|"
                                    r"risposta automatica|resposta autom[aá]tica|"
                                    r"automatisk svar|autosvar)\b"),
        ("subject:undeliverable", r"^(?:undeliverable|undelivered mail|mail delivery failed|"
                                  r"mail delivery failure|delivery failure|delivery status notification|"
                                  r"delivery notification|returned mail\b|failure notice|"
                                  r"mail system error|message delivery failure|non[- ]?delivery|"
                                  r"nondeliverable|message not delivered|could not send message|"
                                  r"warning: could not send|delayed mail|unable to deliver|"
                                  r"unzustellbar|nicht zustellbar|non remis|onbestelbaar|"
                                  r"non recapitabile|no se puede entregar|"
                                  r"メールエラー通知|未配達|配信不能)"),
        ("subject:complaint", r"^complaint about message from\b"),
    )
)


def strip_subject_prefixes(subject: str, prefix: re.Pattern[str] = _PREFIX) -> str:
    """'RE: AW: [#123] Fwd: Out of Office' -> 'Out of Office' (at most 20 prefixes)."""
    text = subject or ""
    for _ in range(20):
        stripped = prefix.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    return text.strip()


def _subject_rule(name: str) -> Callable[[ParsedMail], bool]:
    pattern = dict(SUBJECT_PATTERNS)[name]

    def rule(mail: ParsedMail) -> bool:
        return bool(pattern.search(strip_subject_prefixes(mail.subject)))

    rule.__name__ = name.replace(":", "_").replace("-", "_")
    rule.__doc__ = f"Subject (after Re:/Fwd:/[tag] prefixes) starts like an {name.split(':')[1]} notice."
    return rule


# --- the rules ------------------------------------------------------------------------------


def x_auto_response_suppress(mail: ParsedMail) -> bool:
    """Exchange sets it on OOF/auto replies; the spec says any value (its table spells it
    'X-Auto-Responded-Suppress', which is accepted too)."""
    return _has(mail, "x-auto-response-suppress", "x-auto-responded-suppress")


def auto_submitted(mail: ParsedMail) -> bool:
    """RFC 3834: any value except 'no' (parameters and comments allowed)."""
    values = mail.headers.get("auto-submitted", [])
    return any(_keyword(value) not in ("", "no") for value in values)


def x_autoreply(mail: ParsedMail) -> bool:
    """Spec: X-Autoreply, any value."""
    return _has(mail, "x-autoreply")


def x_autorespond(mail: ParsedMail) -> bool:
    """Set by many vacation responders (X-Autorespond / X-Autoresponse / X-AutoReply-From /
    X-Mail-Autoreply)."""
    return _has(mail, "x-autorespond", "x-autoresponse", "x-autoreply-from", "x-mail-autoreply")


def precedence(mail: ParsedMail) -> bool:
    """Precedence or X-Precedence bulk, junk, list or auto_reply."""
    values = mail.headers.get("precedence", []) + mail.headers.get("x-precedence", [])
    return any(_keyword(value).replace("-", "_") in ("bulk", "junk", "list", "auto_reply") for value in values)


def x_fc_machinegenerated(mail: ParsedMail) -> bool:
    """First Class mail servers mark automatic mail with X-FC-MachineGenerated."""
    return _has(mail, "x-fc-machinegenerated")


def x_failed_recipients(mail: ParsedMail) -> bool:
    """Exim (and others) put the failed addresses of a bounce here."""
    return _has(mail, "x-failed-recipients")


def x_ms_exchange_ndr(mail: ParsedMail) -> bool:
    """Exchange / Office 365 mark their non-delivery reports with X-MS-Exchange-Message-Is-Ndr."""
    values = mail.headers.get("x-ms-exchange-message-is-ndr")
    return values is not None and not any(value.strip().lower() == "false" for value in values)


def x_loop(mail: ParsedMail) -> bool:
    """X-Loop is set by ticket systems and list servers on mail they generate."""
    return _has(mail, "x-loop")


def mailing_list(mail: ParsedMail) -> bool:
    """List-Id / List-Unsubscribe and the other RFC 2369 list headers (and ezmlm's
    Mailing-List): the mail came from a mailing list, list manager or newsletter tool."""
    return _has(
        mail, "list-id", "list-unsubscribe", "list-subscribe", "list-post", "list-help",
        "list-owner", "list-archive", "mailing-list",
    )


def empty_return_path(mail: ParsedMail) -> bool:
    """Return-Path <> is the null sender of bounces and other automatic notifications."""
    values = mail.headers.get("return-path", [])
    return any(re.fullmatch(r"<\s*>", value.strip()) for value in values)


def delivery_status_report(mail: ParsedMail) -> bool:
    """multipart/report; report-type=delivery-status, or a message/delivery-status part (RFC 3464)."""
    return mail.report_type in ("delivery-status", "global-delivery-status") or any(
        part.content_type in ("message/delivery-status", "message/global-delivery-status") for part in mail.parts
    )


def disposition_notification(mail: ParsedMail) -> bool:
    """Read receipts (RFC 8098): multipart/report; report-type=disposition-notification."""
    return mail.report_type == "disposition-notification" or any(
        part.content_type == "message/disposition-notification" for part in mail.parts
    )


def feedback_report(mail: ParsedMail) -> bool:
    """Abuse feedback loops (ARF, RFC 5965): report-type=feedback-report."""
    return mail.report_type == "feedback-report" or any(
        part.content_type == "message/feedback-report" for part in mail.parts
    )


def other_report(mail: ParsedMail) -> bool:
    """Any other multipart/report is machine-generated too."""
    return mail.content_type == "multipart/report"


def list_server(mail: ParsedMail) -> bool:
    """List managers that write no RFC 2369 headers (fml: X-MLServer / X-ML-Info)."""
    return _has(mail, "x-mlserver", "x-ml-server", "x-ml-info")


def machine_notification(mail: ParsedMail) -> bool:
    """Cloud notification services (Amazon SNS writes x-amz-sns-message-type)."""
    return _has(mail, "x-amz-sns-message-type", "x-amz-sns-message-id")


def mailer_daemon_sender(mail: ParsedMail) -> bool:
    """From MAILER-DAEMON@ / postmaster@ (also without a domain, as some MTAs write it)."""
    return bool(_BOUNCE_LOCAL_PARTS.match(_sender_local_part(mail)))


@dataclass(frozen=True)
class Rule:
    name: str
    check: Callable[[ParsedMail], bool]
    bypassable: bool = True  # False: applies even to allow-listed senders (bounces)


# Order matters only for the reported name: bounces first (a caller may thread a bounce to the
# ticket whose mail bounced), then auto-replies, then the weaker list / loop signals.
RULES: tuple[Rule, ...] = (
    Rule("delivery-status-report", delivery_status_report, bypassable=False),
    Rule("mailer-daemon-sender", mailer_daemon_sender, bypassable=False),
    Rule("x-failed-recipients", x_failed_recipients, bypassable=False),
    Rule("exchange-ndr", x_ms_exchange_ndr, bypassable=False),
    Rule("feedback-report", feedback_report, bypassable=False),
    Rule("disposition-notification-report", disposition_notification),
    Rule("multipart-report", other_report),
    Rule("x-auto-response-suppress", x_auto_response_suppress),
    Rule("auto-submitted", auto_submitted),
    Rule("x-autoreply", x_autoreply),
    Rule("x-autorespond", x_autorespond),
    Rule("precedence", precedence),
    Rule("x-fc-machinegenerated", x_fc_machinegenerated),
    Rule("subject:out-of-office", _subject_rule("subject:out-of-office")),
    Rule("subject:automatic-reply", _subject_rule("subject:automatic-reply")),
    Rule("subject:undeliverable", _subject_rule("subject:undeliverable")),
    Rule("subject:complaint", _subject_rule("subject:complaint"), bypassable=False),
    Rule("machine-notification", machine_notification),
    Rule("empty-return-path", empty_return_path),
    Rule("mailing-list", mailing_list),
    Rule("list-server", list_server),
    Rule("x-loop", x_loop),
)


def is_allowed_sender(address: str, allowed_senders: tuple[str, ...]) -> bool:
    """Entries are full addresses or '@domain' (exact domain), compared lower-case."""
    address = (address or "").strip().lower()
    if not address:
        return False
    for entry in allowed_senders:
        entry = (entry or "").strip().lower()
        if entry and (address == entry or (entry.startswith("@") and address.endswith(entry))):
            return True
    return False


def detect_auto_reply(mail: ParsedMail, allowed_senders: tuple[str, ...] = ()) -> str | None:
    """Name of the first rule in RULES that matches, or None for mail a person wrote.

    Allow-listed senders (monitoring tools, partner service desks) skip every rule except the
    bounce rules: a delivery report or a mailer-daemon sender is never a ticket.
    """
    allowed = is_allowed_sender(mail.from_address, allowed_senders)
    for rule in RULES:
        if allowed and rule.bypassable:
            continue
        try:
            if rule.check(mail):
                return rule.name
        except Exception:  # noqa: BLE001 - a rule bug must not turn every mail into a crash
            continue
    return None


# --- no-reply senders (auto-response suppression) -------------------------------------------

NO_REPLY_PATTERN = re.compile(
    r"^(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|abuse|root|"
    r"no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|noreply|bounces?)"
    r"(?:[-_.+=][^@]*)?$",
    re.I,
)


def is_no_reply_sender(address: str, pattern: re.Pattern[str] | str | None = None) -> bool:
    """True when no auto-response should be sent to this address: its local part looks like a
    daemon, abuse/root, no-reply or bounce (VERP) address. Empty or unreadable addresses are
    no-reply too, since there is nobody to answer."""
    address = (address or "").strip().strip("<>").lower()
    if not address:
        return True
    regex = re.compile(pattern, re.I) if isinstance(pattern, str) else (pattern or NO_REPLY_PATTERN)
    return bool(regex.match(address.split("@", 1)[0]))


def bounced_message_id(mail: ParsedMail) -> str | None:
    """Message-ID of the original mail carried by a bounce (message/rfc822 or
    text/rfc822-headers part), to thread the bounce to the ticket whose mail bounced."""
    for part in mail.parts:
        if part.content_type in ("message/rfc822", "message/global", "text/rfc822-headers"):
            headers = part.data.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
            found = parse_mail(headers + b"\n\n").header("message-id")
            if found:
                return normalize_message_id(found)
    return None
