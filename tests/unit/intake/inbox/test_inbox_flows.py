"""The inbox's flows with what the HTTP tests cannot name yet: a street office worker's scope (every community of
the street) and an injected workers' directory deciding who is a colleague."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from linli.errors import InvalidArgument, PermissionDenied
from services.intake.auth.identity import Resident, Worker
from services.intake.inbox.flows import Colleague, InboxFlows, ViewDefinition
from services.intake.inbox.models import InboxFilters, InboxSet, InboxSort
from tests.unit.intake.fakes import Intake
from tests.unit.intake.inbox.rows import HENGKANG, MEILIN, insert_rows, ticket_row

pytest_plugins = ["tests.unit.intake.database"]

ALL_OPEN = ViewDefinition(InboxSet.ALL_OPEN, InboxSort.DEADLINE, InboxFilters())


class Directory:
    """A workers' directory as the organisation noun will offer it: who, for which party, where."""

    def __init__(self, *colleagues: Colleague) -> None:
        self._known = {c.worker_id: c for c in colleagues}
        self.asked: list[str] = []

    def lookup(self, worker_id: str, *, session: Session) -> Colleague | None:
        self.asked.append(worker_id)
        return self._known.get(worker_id)


def test_a_street_worker_sees_every_community_of_the_street_and_no_other(intake: Intake) -> None:
    insert_rows(
        intake.database,
        [
            ticket_row("h", party="street_office"),
            ticket_row("m", party="street_office", community=MEILIN),
            ticket_row("x", party="street_office", community="西渚社区"),
        ],
    )
    flows = InboxFlows(intake.context, intake.flows, Directory())
    street = Worker("s-1", "street_office", street="城东街道", street_communities=frozenset({HENGKANG, MEILIN}))
    assert [v.ticket.id for v in flows.page(street, ALL_OPEN).tickets] == ["h", "m"]
    with pytest.raises(PermissionDenied):
        flows.page(street, ViewDefinition(InboxSet.ALL_OPEN, InboxSort.DEADLINE, InboxFilters(community="西渚社区")))
    with pytest.raises(PermissionDenied):
        flows.page(Resident("r-h"), ALL_OPEN)


def test_the_injected_directory_decides_who_is_a_colleague(intake: Intake) -> None:
    insert_rows(intake.database, [ticket_row("a")])
    directory = Directory(
        Colleague("w-8", "property_manager", frozenset({HENGKANG})),
        Colleague("w-all", "property_manager", None),
        Colleague("w-meilin", "property_manager", frozenset({MEILIN})),
    )
    flows = InboxFlows(intake.context, intake.flows, directory)
    me = Worker("w-7", "property_manager", HENGKANG)
    assert flows.assign("a", me, assignee_worker_id="w-8").ticket.assignee_worker_id == "w-8"
    assert flows.assign("a", me, assignee_worker_id="w-all").ticket.assignee_worker_id == "w-all"
    for stranger in ("w-meilin", "w-unknown"):
        with pytest.raises(InvalidArgument):
            flows.assign("a", me, assignee_worker_id=stranger)
    assert directory.asked == ["w-8", "w-all", "w-meilin", "w-unknown"]
