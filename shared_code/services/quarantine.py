"""Quarantine: a mail that failed `MAX_PROCESSING_ATTEMPTS` attempts is set aside so it never
stalls its mailbox; an admin lists it, sends it back for one more attempt, or dismisses it.

The fetch run (services/fetch.py) calls `set_aside` and `release`; the CLI calls the rest.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..domain.model import ValidationError
from ..domain.ingest import (
    IngestState,
    QuarantineState,
    normalize_quarantine_id,
    quarantine_id,
)
from ..domain.telemetry import Quarantine, error_type
from .helpdesk import Helpdesk

QUARANTINED = "Mail quarantined"


def set_aside(desk: Helpdesk, account: str, ref, attempts: int, error: str,
              raw_blob: str) -> str:
    """Record the mail as quarantined (once) and finish it in the ledger; returns its id.

    Called again for the same mail (a crash replay, or a retry that failed as well) it
    keeps the one row: the system log gets one entry when the row is created and one
    when a retry failed, never one per replay.
    """
    qid = quarantine_id(account, ref.id)
    fields = {
        "account": account, "graph_id": ref.id, "message_id": ref.internet_message_id or "",
        "subject": ref.subject or "", "from_name": getattr(ref, "from_name", None) or "",
        "from_email": ref.from_address or "", "received": ref.received, "error": error,
        "attempts": attempts, "raw_blob": raw_blob,
    }
    where = f"raw copy raw-mail/{raw_blob}" if raw_blob else \
        f"not downloaded: find it in the mailbox by its Graph id {ref.id}"
    mail = ref.internet_message_id or ref.id
    title = ""
    if desk.quarantine.add(qid, fields):
        title = QUARANTINED
    else:
        row = desk.quarantine.get(qid) or {}
        if row.get("state") == QuarantineState.RETRYING.value:
            fields["state"] = QuarantineState.QUARANTINED
            fields["quarantined_at"] = _now()
            title = "Mail quarantined again"
        desk.quarantine.update(qid, fields)
    if title:
        desk.telemetry.emit(Quarantine(account, attempts, error_type(error), title != QUARANTINED))
        desk.syslog.write(
            "error", title,
            f"{account}: mail {mail} ({ref.subject or ''!r} from {ref.from_address or '?'}) "
            f"failed {attempts} attempts and was set aside as quarantine id {qid} ({where}): "
            f"{error}",
            account=account,
        )
    desk.ledger.update(account, ref.id, {
        "state": IngestState.PROCESSED.value, "outcome": "quarantined", "attempts": attempts,
        "error": error[:2000], "quarantine_id": qid,
    })
    return qid


def release(desk: Helpdesk, account: str, qid: str, outcome: str, ticket: str = "") -> None:
    """The extra attempt an admin asked for finished the mail."""
    desk.quarantine.update(qid, {"state": QuarantineState.RELEASED, "released_at": _now(),
                                 "outcome": outcome, "ticket": ticket})
    desk.syslog.write("info", "Quarantined mail processed",
                      f"{account}: quarantined mail {qid} was processed on retry: {outcome}"
                      + (f" (ticket #{ticket})" if ticket else ""), account=account)


def retry(desk: Helpdesk, qid: str, by: str = "") -> dict:
    """Send a quarantined (or dismissed) mail back for one more attempt by the next fetch run."""
    row = _row(desk, qid)
    state = QuarantineState(row.get("state", "quarantined"))
    if state is QuarantineState.RELEASED:
        raise ValidationError(f"quarantined mail {row['RowKey']} was already processed "
                         f"({row.get('outcome', '')}); nothing to retry")
    if state in (QuarantineState.RETRY, QuarantineState.RETRYING):
        return row  # already on its way back
    fields = {"state": QuarantineState.RETRY, "retry_requested_at": _now(),
              "retry_requested_by": by}
    desk.quarantine.update(row["RowKey"], fields)
    desk.syslog.write("info", "Quarantined mail sent back",
                      f"{row.get('account', '')}: quarantined mail {row['RowKey']} will get one "
                      f"more attempt in the next fetch run" + (f" (by {by})" if by else ""),
                      account=row.get("account", ""))
    return {**row, **fields, "state": QuarantineState.RETRY.value}


def dismiss(desk: Helpdesk, qid: str, by: str) -> dict:
    """Record that an admin dealt with the mail; it leaves the default list."""
    row = _row(desk, qid)
    if row.get("state") == QuarantineState.DISMISSED.value:
        return row
    fields = {"state": QuarantineState.DISMISSED, "dismissed_at": _now(), "dismissed_by": by}
    desk.quarantine.update(row["RowKey"], fields)
    return {**row, **fields, "state": QuarantineState.DISMISSED.value}


def _row(desk: Helpdesk, qid: str) -> dict:
    key = normalize_quarantine_id(qid)
    row = desk.quarantine.get(key) if key and key.isalnum() else None
    if row is None:
        raise LookupError(f"no quarantined mail with id {qid!r} "
                          "(see `quarantine list --all` for the ids)")
    return row


def _now() -> datetime:
    return datetime.now(timezone.utc)
