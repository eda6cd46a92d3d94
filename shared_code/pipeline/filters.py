"""Rule 2a: the admins' filters (domain/filters.py) decide what becomes of a mail.

It runs after the loop guard (rule 2: our own and spoofed-helpdesk mail never reach a filter,
so no filter can let a loop through) and BEFORE the auto-reply rule, because one of its actions
lets an auto-generated mail (a monitoring alert with Auto-Submitted) through that rule. A
discard stops the mail here, with the filter's reason in the ledger and the run log; the other
actions are kept on the mail (`mail.filtered`) for the auto-reply rule (3), the new ticket (rule 6)
and its notifications (rule 7). Filters set department, priority, assignee and tags on NEW
tickets only: a reply keeps its ticket as staff left it.
"""
from __future__ import annotations

from ..domain.filters import evaluate
from ..domain.telemetry import DiscardRule
from .already_seen import check_deferred
from .context import InboundMail, PipelineContext


def filters(mail: InboundMail, ctx: PipelineContext) -> None:
    if not ctx.filters:
        return
    decision = evaluate(ctx.filters, mail.parsed)
    if not decision.matched:
        return
    mail.filtered = decision
    if mail.claim is not None or not decision.discard:
        return  # a claim passed this rule in the run that made it; its settings still apply
    if check_deferred(mail, ctx):
        return  # a duplicate, or an earlier run's claim to finish
    mail.outcome, mail.discard_rule = "discarded", DiscardRule.FILTER
    mail.reason = f"discarded by filter {decision.discarded_by!r}: {decision.discard}"
    mail.rule = f"filter:{decision.discarded_by}"[:200]
