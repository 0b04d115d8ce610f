"""The waiting state: a question to the resident stops a ticket's SLA clock, the resident's answer restarts it.

As Jira Service Management and Zendesk do on "waiting for customer": the deadline moves on by exactly the time spent
waiting, so the party is not blamed (or escalated by the sweep, which skips waiting tickets) for the resident's
silence, nor given more time than the wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.intake.tickets.models import OPEN_STATUSES, Ticket, TicketStatus

# A question can stop the clock only of a ticket someone still owes an answer (and that is not waiting already).
ASKABLE = OPEN_STATUSES


def is_waiting(ticket: Ticket) -> bool:
    """True while the ticket waits for the resident's answer."""
    return ticket.status == TicketStatus.WAITING_RESIDENT.value


def pause(ticket: Ticket, now: datetime) -> None:
    """Puts an open ticket in WAITING_RESIDENT, remembering its status and when the clock stopped."""
    ticket.status_before_waiting = ticket.status
    ticket.status = TicketStatus.WAITING_RESIDENT.value
    ticket.waiting_since = now


def resume(ticket: Ticket, now: datetime) -> timedelta:
    """Returns a waiting ticket to the status it had, its deadline later by the time waited; returns that time."""
    since = ticket.waiting_since or now
    waited = max(now - since, timedelta(0))
    if ticket.sla_due_at is not None:
        ticket.sla_due_at = ticket.sla_due_at + waited
    ticket.sla_paused_seconds += int(waited.total_seconds())
    # A ticket that somehow lost its previous status goes where any open ticket without a holder goes.
    ticket.status = ticket.status_before_waiting or TicketStatus.NEEDS_MANUAL.value
    clear(ticket)
    return waited


def clear(ticket: Ticket) -> None:
    """Forgets the waiting state (after an answer, or when the ticket is resolved while it waited)."""
    ticket.waiting_since = None
    ticket.status_before_waiting = ""


def waited_text(waited: timedelta) -> str:
    """The time waited in the words of a history note, e.g. "1 天 3 小时" or "25 分钟"."""
    minutes = int(waited.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分钟"
    return f"{minutes} 分钟"
