"""What residents and workers do to a ticket: each flow is one unit of work; tasks and notices follow the commit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from linli.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from linli.parties import unknown_party_message
from linli.pii import scrub
from services.intake.auth import Worker
from services.intake.auth.access import hidden_or_denied
from services.intake.auth.identity import resident_actor
from services.intake.metrics import TICKETS_SPLIT, TICKETS_SUBMITTED
from services.intake.tickets import duplicates, models, repository
from services.intake.tickets.context import Attachments, EventKind, FlowContext, NoAttachments, Work
from services.intake.tickets.models import OPEN_STATUSES, RoutingCorrection, Ticket, TicketStatus
from services.intake.tickets.repository import TicketQuery
from services.intake.tickets.rules import (
    ACCEPTABLE,
    NOT_SOLVED_SCORE,
    RATEABLE,
    REOPENABLE,
    RESOLVABLE,
    SPLITTABLE,
    STARTABLE,
    TRANSFERABLE,
    authorize,
    check_status,
)
from services.intake.tickets.validation import Submission, check_text, replayed, validate_submission
from services.intake.tickets.views import TicketView, new_ticket_view, view_of, views_of


class TicketFlows:
    """The ticket use cases shared by the gRPC servicer and the HTTP API."""

    def __init__(self, context: FlowContext, attachments: Attachments | None = None) -> None:
        self._context = context
        self._attachments = attachments or NoAttachments()

    def known_communities(self) -> frozenset[str]:
        """The communities a new ticket may name (the organisation's table where intake wires it)."""
        return self._context.known_communities()

    @property
    def context(self) -> FlowContext:
        """The unit of work, clock and policy these flows share (the inbox's flows work with the same)."""
        return self._context

    def submit(self, submission: Submission, *, admit: Callable[[], None] = lambda: None) -> tuple[TicketView, bool]:
        """Stores a ticket, then queues its triage; returns (ticket, created).

        `admit` (the submit rate limit) runs only before a new ticket: a retry with its idempotency key is no new
        submission. The ticket is committed before anything is published: the sweep re-queues it if the broker fails.
        """
        submission = validate_submission(submission, known_communities=self._context.known_communities())
        try:
            with self._context.transaction() as work:
                if submission.idempotency_key:
                    earlier = repository.by_idempotency_key(submission.idempotency_key, session=work.session)
                    if earlier is not None:
                        return view_of(replayed(earlier, submission), session=work.session), False
                admit()
                ticket = self._new_ticket(submission)
                owner = resident_actor(submission.resident_id)
                self._context.record(ticket, EventKind.RECEIVED, owner)
                repository.insert_new(ticket, session=work.session)
                self._attachments.attach(
                    submission.attachment_ids, ticket, owner=owner, kind="before", session=work.session
                )
                self._queue_triage(work, ticket)
                work.after_commit(TICKETS_SUBMITTED.inc)
                return new_ticket_view(ticket, session=work.session, took_photos=bool(submission.attachment_ids)), True
        except IntegrityError:
            # A concurrent retry with the same key won the insert: answer with its ticket.
            with self._context.transaction() as work:
                earlier = repository.by_idempotency_key(submission.idempotency_key, session=work.session)
                if earlier is None:
                    raise
                return view_of(replayed(earlier, submission), session=work.session), False

    def get(self, ticket_id: str) -> TicketView:
        """One ticket with its history, its primary's status and its duplicates."""
        with self._context.transaction() as work:
            return view_of(repository.get(ticket_id, session=work.session), session=work.session)

    def list(self, query: TicketQuery) -> tuple[list[TicketView], str]:
        """One page of tickets and the next page's token."""
        if not 1 <= query.page_size <= 100:
            raise InvalidArgument.for_field("page_size", "must be between 1 and 100")
        with self._context.transaction() as work:
            tickets, token = repository.list_page(query, session=work.session)
            return views_of(tickets, session=work.session), token

    def accept(self, ticket_id: str, worker: Worker) -> TicketView:
        """The worker's party takes the ticket on; a dispatcher may claim a ticket of the manual queue for theirs."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(ticket, worker, claim_manual=True)
            check_status(ticket, ACCEPTABLE, "accepted")
            from_party = ticket.party
            ticket.party, ticket.status = worker.party, TicketStatus.ACCEPTED.value
            ticket.assignee_worker_id = worker.worker_id
            accepted = self._context.record(
                ticket,
                EventKind.ACCEPTED,
                worker.actor,
                from_party=from_party,
                to_party=worker.party,
                party=worker.party,
            )
            models.stamp_acceptance(ticket, accepted.at)
            self._context.notify(work, "accepted", ticket, worker_id=worker.worker_id)
            return view_of(ticket, session=work.session)

    def start(self, ticket_id: str, worker: Worker) -> TicketView:
        """The worker's party starts the work on an accepted ticket."""
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(ticket, worker)
            check_status(ticket, STARTABLE, "started")
            ticket.status = TicketStatus.IN_PROGRESS.value
            self._context.record(ticket, EventKind.STARTED, worker.actor, party=worker.party)
            return view_of(ticket, session=work.session)

    def transfer(self, ticket_id: str, worker: Worker, *, to_party: str, reason: str) -> TicketView:
        """Hands the ticket to another party; kept as a routing correction, and a hand-back escalates (a dispute)."""
        violations = [*check_text(reason, "reason"), *self._check_party(to_party)]
        if violations:
            raise InvalidArgument.for_fields(violations)
        if to_party == worker.party:
            raise InvalidArgument.for_field("to_party", "must differ from the acting party")
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(ticket, worker)
            check_status(ticket, TRANSFERABLE, "transferred")
            # The party receiving it now had handed it away before: the parties disagree, a level up decides.
            disputed = any(e.kind == EventKind.TRANSFERRED and e.from_party == to_party for e in ticket.events)
            from_party, reason = ticket.party, reason.strip()
            ticket.party, ticket.status = to_party, TicketStatus.TRANSFERRED.value
            ticket.assignee_worker_id, ticket.transfer_count = "", ticket.transfer_count + 1
            self._context.record(
                ticket,
                EventKind.TRANSFERRED,
                worker.actor,
                note=reason,
                from_party=from_party,
                to_party=to_party,
                party=worker.party,
            )
            repository.add_correction(
                RoutingCorrection(
                    ticket_id=ticket.id,
                    text=scrub(ticket.text),
                    from_party=from_party,
                    to_party=to_party,
                    reason=reason,
                    worker_id=worker.worker_id,
                    catalog_entry=ticket.catalog_entry,
                    at=ticket.updated_at,
                ),
                session=work.session,
            )
            self._context.notify(work, "transferred", ticket, from_party=from_party, to_party=to_party, reason=reason)
            if disputed:
                self._context.escalate(work, ticket, reason=f"权责争议:{from_party} 与 {to_party} 互相转派")
            return view_of(ticket, session=work.session)

    def resolve(
        self, ticket_id: str, worker: Worker, *, resolution: str, attachment_ids: Sequence[str] = ()
    ) -> TicketView:
        """Closes the ticket with what was done (and the worker's after-photos); its duplicates are resolved with it,
        and retrieval learns the case."""
        violations = check_text(resolution, "resolution")
        if violations:
            raise InvalidArgument.for_fields(violations)
        resolution = resolution.strip()
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(ticket, worker)
            check_status(ticket, RESOLVABLE, "resolved")
            self._attachments.attach(attachment_ids, ticket, owner=worker.actor, kind="after", session=work.session)
            self._resolve(work, ticket, resolution, actor=worker.actor, party=worker.party)
            ticket.case_sync_pending = True
            self._queue_case_sync(work, ticket)
            for follower in repository.followers(ticket.id, session=work.session):
                if follower.status == TicketStatus.MERGED.value:
                    follower.party = ticket.party
                    self._resolve(work, follower, resolution, actor=worker.actor, party=worker.party)
            return view_of(ticket, session=work.session)

    def rate(self, ticket_id: str, *, resident_id: str, score: int, comment: str = "") -> TicketView:
        """The resident's rating: a good one closes the ticket, a bad one ("not solved") reopens and escalates it."""
        if not 1 <= score <= 5:
            raise InvalidArgument.for_field("score", "must be between 1 and 5")
        if comment and (violations := check_text(comment, "comment")):
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            if ticket.resident_id != resident_id:
                raise PermissionDenied("only the resident who raised a ticket can rate it")
            check_status(ticket, RATEABLE, "rated")
            ticket.rating = score
            note = f"{score}/5 {comment.strip()}".strip()
            self._context.record(ticket, EventKind.RATED, resident_actor(resident_id), note=note)
            if score > NOT_SOLVED_SCORE:
                ticket.status = TicketStatus.CLOSED.value
            else:
                self._reopen(work, ticket, actor="system", reason=f"居民评价未解决({note})")
                self._context.escalate(work, ticket, reason="居民评价未解决")
            return view_of(ticket, session=work.session)

    def reopen(self, ticket_id: str, *, resident_id: str, reason: str) -> TicketView:
        """The resident says a resolved problem is back: the same party gets it again with a fresh deadline."""
        if violations := check_text(reason, "reason"):
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            if ticket.resident_id != resident_id:
                raise PermissionDenied("only the resident who raised a ticket can reopen it")
            check_status(ticket, REOPENABLE, "reopened")
            self._reopen(work, ticket, actor=resident_actor(resident_id), reason=reason.strip())
            return view_of(ticket, session=work.session)

    def dispatch(self, ticket_id: str, worker: Worker, *, to_party: str, note: str = "") -> TicketView:
        """A dispatcher of the community routes a manual-queue ticket to any party."""
        violations = [*self._check_party(to_party), *(check_text(note, "note") if note else [])]
        if violations:
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            if not (worker.is_dispatcher and worker.serves(ticket.community)):
                hidden_or_denied(worker, ticket, f"only a dispatcher of {ticket.community} can dispatch its tickets")
            check_status(ticket, {TicketStatus.NEEDS_MANUAL}, "dispatched")
            ticket.party, ticket.status = to_party, TicketStatus.ROUTED.value
            self._context.record(
                ticket, EventKind.DISPATCHED, worker.actor, note=note.strip(), to_party=to_party, party=worker.party
            )
            self._context.notify(work, "routed", ticket, dispatched_by=worker.worker_id)
            return view_of(ticket, session=work.session)

    def merge(self, ticket_id: str, worker: Worker, *, primary_id: str) -> tuple[TicketView, TicketView]:
        """Folds a ticket into an open one about the same problem; returns (ticket, primary)."""
        if ticket_id == primary_id:
            raise InvalidArgument.for_field("primary_ticket_id", "must be another ticket")
        with self._context.transaction() as work:
            # Lock in id order, so two merges of the same pair cannot deadlock.
            first, second = sorted((ticket_id, primary_id))
            locked = {
                first: repository.get(first, session=work.session, for_update=True),
                second: repository.get(second, session=work.session, for_update=True),
            }
            ticket, primary = locked[ticket_id], locked[primary_id]
            authorize(ticket, worker, dispatcher_may=True)
            authorize(primary, worker, dispatcher_may=True)
            if ticket.community != primary.community:
                raise FailedPrecondition("only tickets of the same community can be merged")
            if primary.primary_id:
                raise FailedPrecondition(f"ticket {primary.id} is itself merged into {primary.primary_id}")
            check_status(primary, set(OPEN_STATUSES), "merged into")
            check_status(ticket, set(OPEN_STATUSES), "merged")
            duplicates.adopt_followers(ticket, primary, session=work.session)
            duplicates.link(
                ticket, primary, self._context, actor=worker.actor, note=f"与工单 {primary.id} 合并", party=worker.party
            )
            return view_of(ticket, session=work.session), view_of(primary, session=work.session)

    def unmerge(self, ticket_id: str, worker: Worker, *, reason: str) -> TicketView:
        """Separates a merged ticket: it goes back to its own routing decision (or to the manual queue)."""
        if violations := check_text(reason, "reason"):
            raise InvalidArgument.for_fields(violations)
        with self._context.transaction() as work:
            ticket = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(ticket, worker, dispatcher_may=True)  # a merged ticket is its primary's party's
            if not ticket.primary_id or ticket.status != TicketStatus.MERGED.value:
                raise FailedPrecondition(f"ticket {ticket.id} is not merged")
            primary = repository.get(ticket.primary_id, session=work.session, for_update=True)
            authorize(primary, worker, dispatcher_may=True)
            duplicates.unlink(
                ticket, primary, self._context, actor=worker.actor, note=reason.strip(), party=worker.party
            )
            routed = bool(ticket.routed_party)
            ticket.party = ticket.routed_party
            ticket.status = (TicketStatus.ROUTED if routed else TicketStatus.NEEDS_MANUAL).value
            ticket.sla_due_at = self._context.clock() + timedelta(hours=self._context.level_hours(ticket))
            self._context.notify(work, "routed" if routed else "needs_manual", ticket, unmerged_from=primary.id)
            return view_of(ticket, session=work.session)

    def split(self, ticket_id: str, worker: Worker, *, text: str) -> TicketView:
        """Makes a further problem of the ticket's message ("一单多事") a ticket of its own; returns the new ticket.

        The new ticket is the same resident's, in the same community, building and place, and links back to the
        ticket it came from; like a submission it is stored first and queued for triage after the commit.
        """
        if violations := check_text(text, "text"):
            raise InvalidArgument.for_fields(violations)
        text = text.strip()
        with self._context.transaction() as work:
            origin = repository.get(ticket_id, session=work.session, for_update=True)
            authorize(origin, worker, claim_manual=True)
            check_status(origin, SPLITTABLE, "split")
            # Locked origin row: a second click with the same passage finds the first split, not a race.
            if (earlier := repository.split_with_text(origin.id, text, session=work.session)) is not None:
                raise AlreadyExists(f"ticket {earlier} was already split off from {origin.id} with this text")
            place = Submission(
                text=text,
                community=origin.community,
                resident_id=origin.resident_id,
                building=origin.building,
                latitude=origin.latitude,
                longitude=origin.longitude,
            )
            ticket = self._new_ticket(place, split_from_id=origin.id)
            note = f"从工单 {origin.id} 的反映中拆分出的问题"
            self._context.record(ticket, EventKind.SPLIT_OFF, worker.actor, note=note, party=worker.party)
            repository.add(ticket, session=work.session)
            note = f"反映中的另一个问题已拆分为工单 {ticket.id}"
            self._context.record(origin, EventKind.SPLIT, worker.actor, note=note, party=worker.party)
            self._queue_triage(work, ticket)
            work.after_commit(TICKETS_SPLIT.inc)
            return view_of(ticket, session=work.session)

    def _check_party(self, party: str) -> tuple[FieldViolation, ...]:
        # A name no queue shows (a typo, "admin") would make the ticket vanish from every worker's list.
        known = self._context.policy.parties
        return () if party in known else (FieldViolation("to_party", unknown_party_message(party, known)),)

    def _resolve(self, work: Work, ticket: Ticket, resolution: str, *, actor: str, party: str) -> None:
        ticket.resolution, ticket.status = resolution, TicketStatus.RESOLVED.value
        models.stamp_resolution(ticket, self._context.clock())
        self._context.record(ticket, EventKind.RESOLVED, actor, note=resolution, party=party)
        self._context.notify(work, "resolved", ticket, resolution=resolution)

    def _reopen(self, work: Work, ticket: Ticket, *, actor: str, reason: str) -> None:
        if ticket.primary_id:
            # Resolved along with its primary, but not solved for this resident: from now on it stands alone.
            reason = f"{reason}(不再随主工单 {ticket.primary_id})"
            ticket.primary_id = None
        ticket.status, ticket.reopen_count = TicketStatus.REOPENED.value, ticket.reopen_count + 1
        ticket.sla_due_at = self._context.clock() + timedelta(hours=self._context.level_hours(ticket))
        self._context.record(ticket, EventKind.REOPENED, actor, note=reason)
        self._context.notify(work, "reopened", ticket, reason=reason)
        # The resolution did not hold: retrieval must stop suggesting it (a no-op for a case it never learned).
        ticket.case_sync_pending = True
        self._queue_case_sync(work, ticket)

    def _queue_case_sync(self, work: Work, ticket: Ticket) -> None:
        ticket.queued_at = self._context.clock()
        ticket_id = ticket.id
        work.after_commit(lambda: self._context.queue.enqueue_case_sync(ticket_id))

    def _queue_triage(self, work: Work, ticket: Ticket) -> None:
        ticket_id = ticket.id
        work.after_commit(lambda: self._context.queue.enqueue_triage(ticket_id))

    def _new_ticket(self, submission: Submission, *, split_from_id: str | None = None) -> Ticket:
        """A RECEIVED ticket for the submission, marked queued now, with no history yet."""
        now = self._context.clock()
        return Ticket(
            text=submission.text,
            community=submission.community,
            building=submission.building,
            resident_id=submission.resident_id,
            status=TicketStatus.RECEIVED.value,
            attachment_urls=list(submission.attachment_urls),
            latitude=submission.latitude,
            longitude=submission.longitude,
            contact_phone=submission.contact_phone,
            idempotency_key=submission.idempotency_key or None,
            created_at=now,
            updated_at=now,
            queued_at=now,
            reporter_count=1,
            priority=1,
            split_from_id=split_from_id,
        )
