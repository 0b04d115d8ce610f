"""Tickets held by no known party go back to the manual queue: checked at every start of intake.

A transfer or dispatch to a misspelt party (accepted before parties were checked), or a party since removed from
`LINLI_INTAKE_PARTIES`, leaves a ticket in a queue nobody reads: the resident would wait forever.
"""

from __future__ import annotations

from sqlalchemy import select

from services.intake.tickets.context import SYSTEM, EventKind, FlowContext
from services.intake.tickets.models import Ticket, TicketStatus

# Where a party holds the ticket; a merged one follows its primary, the manual queue has no party yet.
HELD_STATUSES = (
    TicketStatus.ROUTED,
    TicketStatus.TRANSFERRED,
    TicketStatus.REOPENED,
    TicketStatus.ACCEPTED,
    TicketStatus.IN_PROGRESS,
)


def return_orphans(context: FlowContext) -> list[str]:
    """Puts every ticket held by a party outside the policy's parties in the manual queue; returns their ids."""
    known = sorted(context.policy.parties)
    with context.transaction() as work:
        orphans = work.session.scalars(
            select(Ticket)
            .where(Ticket.status.in_([status.value for status in HELD_STATUSES]), Ticket.party.not_in(known))
            .with_for_update()
        ).all()
        for ticket in orphans:
            lost_party = ticket.party
            ticket.party, ticket.assignee_worker_id = "", ""
            ticket.status = TicketStatus.NEEDS_MANUAL.value
            note = f"处理方 {lost_party!r} 不在本系统的处理方之中,工单退回人工分派"
            context.record(ticket, EventKind.NEEDS_MANUAL, SYSTEM, note=note, from_party=lost_party)
            context.notify(work, "needs_manual", ticket, note=note)
        return [ticket.id for ticket in orphans]
