"""The retention sweep (PIPL): tickets closed longer ago than LINLI_INTAKE_PERSONAL_DATA_RETENTION_DAYS are anonymized,
and audit events older than that period are deleted.

Each ticket gets a tombstone of its own (nobody asked, so no token is revoked and the resident's other tickets are not
touched); a ticket reopened or rated meanwhile starts its period again. Beat runs it (services/intake/triage); 0 days
turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from services.intake.audit import repository as audit_events
from services.intake.metrics import TICKETS_ANONYMIZED
from services.intake.residents import repository
from services.intake.residents.anonymization import anonymize_ticket, new_tombstone
from services.intake.tickets.context import SYSTEM, FlowContext
from services.intake.uploads.flows import delete_objects
from services.intake.uploads.storage import ObjectStore

logger = logging.getLogger(__name__)

EXPIRED_NOTE = "个人信息保存期满,已匿名化"
# Audit events are small rows: a sweep deletes this many sweep batches of them at most.
AUDIT_BATCHES_PER_SWEEP = 10


class RetentionSweep:
    """Anonymizes what was kept long enough, one bounded batch per unit of work; the anonymized tickets' photos go
    from the photo store after the commit (`photos` gives it, asked only while retention is on; None leaves their
    objects, whose rows are gone)."""

    def __init__(self, context: FlowContext, photos: Callable[[], ObjectStore] | None = None) -> None:
        self._context = context
        self._photos = photos

    def anonymize_expired(self) -> int:
        """Anonymizes up to a sweep batch of tickets closed longer ago than the retention period; returns how many."""
        retention = self._context.policy.personal_data_retention
        if retention is None:
            return 0
        cutoff = self._context.clock() - retention
        photos = self._photos() if self._photos is not None else None  # before the rows go: a store down stops it
        self.forget_old_audit_events()
        with self._context.transaction() as work:
            tickets = repository.closed_not_anonymized(
                cutoff, limit=self._context.policy.sweep_batch, session=work.session
            )
            changes = [
                anonymize_ticket(self._context, work, ticket, new_tombstone(), note=EXPIRED_NOTE, actor=SYSTEM)
                for ticket in tickets
            ]
            keys = [key for change in changes for key in change.photo_keys]
            if keys and photos is not None:
                work.after_commit(partial(delete_objects, photos, keys))
            if tickets:
                work.after_commit(lambda: TICKETS_ANONYMIZED.inc(len(tickets)))
        if tickets:
            logger.info("anonymized tickets past their retention", extra={"count": len(tickets)})
        return len(tickets)

    def forget_old_audit_events(self) -> int:
        """Deletes a bounded batch of audit events older than the retention period; returns how many (0 when
        retention is off: the log is then kept like the tickets)."""
        retention = self._context.policy.personal_data_retention
        if retention is None:
            return 0
        limit = self._context.policy.sweep_batch * AUDIT_BATCHES_PER_SWEEP
        with self._context.transaction() as work:
            deleted = audit_events.delete_before(self._context.clock() - retention, limit=limit, session=work.session)
        if deleted:
            logger.info("deleted audit events past their retention", extra={"count": deleted})
        return deleted
