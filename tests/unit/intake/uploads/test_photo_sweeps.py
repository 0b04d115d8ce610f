"""Photos are not kept past their use: beat's sweep forgets uploads no ticket took in time, and the retention sweep
deletes the objects of an anonymized ticket's photos, not only their rows (the files used to stay behind)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.intake.auth.identity import Resident
from services.intake.database import Database
from services.intake.tickets.context import LifecyclePolicy
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.sweeps import SweepFlows
from services.intake.tickets.validation import Submission
from services.intake.uploads import repository as uploads_repository
from services.intake.uploads.assembly import Uploads, create_uploads
from services.intake.uploads.models import Upload
from services.intake.uploads.settings import UploadSettings
from tests.unit.intake.fakes import PROPERTY, Intake, decision
from tests.unit.intake.uploads.photos import png

# Provides the `ticket_database` fixture (SQLite and PostgreSQL).
pytest_plugins = ["tests.unit.intake.database"]

RESIDENT = Resident("r-1")
COMMUNITY = "恒康居民区"
KEPT = timedelta(hours=24)


@dataclass
class Photos:
    intake: Intake
    uploads: Uploads
    flows: TicketFlows
    folder: Path

    def sweeps(self, unattached_for: timedelta | None = KEPT) -> SweepFlows:
        return SweepFlows(self.intake.context, lambda: self.uploads.store, unattached_for)

    def upload(self) -> str:
        return self.uploads.flows.upload(RESIDENT, png()).id

    def files(self) -> int:
        return sum(1 for path in self.folder.rglob("*") if path.is_file())

    def rows(self) -> set[str]:
        with self.intake.database.unit_of_work() as session:
            return set(session.scalars(select(Upload.id)))


@pytest.fixture
def photos(ticket_database: Database, tmp_path: Path) -> Photos:
    intake = Intake(ticket_database, policy=LifecyclePolicy(personal_data_retention=timedelta(days=180)))
    folder = tmp_path / "uploads"
    uploads = create_uploads(intake.context, UploadSettings(folder=folder), secrets=[b"s" * 32])
    return Photos(intake, uploads, TicketFlows(intake.context, uploads.flows), folder)


def test_a_photo_no_ticket_took_is_forgotten_after_the_hours_it_is_kept(photos: Photos) -> None:
    stale = photos.upload()
    photos.intake.clock.now += KEPT - timedelta(minutes=1)
    recent = photos.upload()
    taken = photos.upload()
    photos.flows.submit(Submission(text="楼道灯坏了", community=COMMUNITY, resident_id="r-1", attachment_ids=(taken,)))
    assert photos.sweeps().forget_unattached_photos() == 0  # none older than the 24 hours yet
    assert photos.files() == 6

    photos.intake.clock.now += timedelta(minutes=2)
    assert photos.sweeps().forget_unattached_photos() == 1
    assert photos.rows() == {recent, taken}
    assert photos.files() == 4  # the stale photo and its thumbnail are gone from the store too
    assert photos.sweeps().forget_unattached_photos() == 0

    photos.intake.clock.now += KEPT
    assert photos.sweeps().forget_unattached_photos() == 1  # the recent one's turn; a ticket's photo stays
    assert photos.rows() == {taken}
    assert stale not in photos.rows()


def test_without_a_limit_or_a_photo_store_unattached_photos_are_kept(photos: Photos) -> None:
    kept = photos.upload()
    photos.intake.clock.now += timedelta(days=400)
    assert photos.sweeps(unattached_for=None).forget_unattached_photos() == 0
    assert SweepFlows(photos.intake.context, None, KEPT).forget_unattached_photos() == 0
    assert (photos.rows(), photos.files()) == ({kept}, 2)


def test_the_retention_sweep_deletes_an_anonymized_tickets_photos_from_the_store(photos: Photos) -> None:
    upload_id = photos.upload()
    submission = Submission(text="楼道灯坏了", community=COMMUNITY, resident_id="r-1", attachment_ids=(upload_id,))
    ticket_id = photos.flows.submit(submission)[0].ticket.id
    photos.intake.triage.record_triage(ticket_id, decision())
    photos.flows.accept(ticket_id, PROPERTY)
    photos.flows.resolve(ticket_id, PROPERTY, resolution="已修好")
    photos.flows.rate(ticket_id, resident_id="r-1", score=5)
    assert photos.files() == 2

    photos.intake.clock.now += timedelta(days=181)
    assert photos.sweeps().anonymize_expired() == 1
    assert (photos.rows(), photos.files()) == (set(), 0)


def test_a_photo_a_submission_is_attaching_is_not_swept_from_under_it(photos: Photos) -> None:
    database = photos.intake.database
    if database.dialect != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every writer")
    upload_id = photos.upload()
    photos.intake.clock.now += KEPT + timedelta(minutes=1)
    with database.unit_of_work() as session:
        assert uploads_repository.find(upload_id, session=session, for_update=True) is not None  # as attach does
        assert photos.sweeps().forget_unattached_photos() == 0  # skipped, not waited for nor deleted
    assert photos.sweeps().forget_unattached_photos() == 1  # still unattached once the submission let go
