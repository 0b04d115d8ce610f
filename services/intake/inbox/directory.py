"""Colleagues as the organisation's workers table knows them (services/intake/organisation), falling back to the
ticket history for workers who only hold a token issued on the command line."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.intake.inbox.flows import ActedBeforeColleagues, Colleague
from services.intake.organisation import repository as organisation


class DirectoryColleagues:
    """A registered worker is a colleague when active, with the scope the table gives (a street: its active
    communities); a worker the table does not know is looked up by their ticket history."""

    def __init__(self, fallback: ActedBeforeColleagues | None = None) -> None:
        self._fallback = fallback or ActedBeforeColleagues()

    def lookup(self, worker_id: str, *, session: Session) -> Colleague | None:
        """The colleague with this id; None for a deactivated worker or nobody known."""
        record = organisation.worker_by_id(worker_id, session=session)
        if record is None:
            return self._fallback.lookup(worker_id, session=session)
        if not record.active:
            return None
        communities: frozenset[str] | None = None
        if record.community:
            communities = frozenset({record.community})
        elif record.street:
            communities = organisation.communities_of_street(record.street, session=session)
        return Colleague(record.worker_id, record.party, communities)
