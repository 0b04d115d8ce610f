"""The organisation tables: migration 0011 creates them (with the default parties), intake's start seeds the
configured communities without undoing an admin's changes, and the cached directory follows the flows' writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from linli.errors import AlreadyExists, InvalidArgument, NotFound
from services.intake.auth.identity import Worker
from services.intake.database import Database, alembic_config, head_revision
from services.intake.organisation import repository
from services.intake.organisation.flows import CommunityDirectory, NewWorker, OrganisationFlows
from tests.unit.intake.organisation.harness import DEFAULT_PARTY_NAMES, migrated

ORGANISATION_TABLES = {"streets", "communities", "parties", "workers"}


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return migrated(tmp_path)


def test_the_migration_creates_the_tables_with_the_default_parties(database: Database) -> None:
    assert set(inspect(database.engine).get_table_names()) >= ORGANISATION_TABLES
    with database.unit_of_work() as session:
        assert repository.parties(session=session) == {
            "owners_committee": "业委会",
            "property_manager": "物业",
            "street_office": "街道/社区",
        }
        assert repository.communities(session=session) == []


def test_the_migration_goes_down_and_up(database: Database) -> None:
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
    assert not ORGANISATION_TABLES & set(inspect(database.engine).get_table_names())
    assert database.upgrade_schema() == head_revision()
    assert set(inspect(database.engine).get_table_names()) >= ORGANISATION_TABLES


def test_seeding_adds_what_is_missing_and_keeps_what_admins_changed(database: Database) -> None:
    flows = OrganisationFlows(database)
    assert flows.seed(["金桥新村", "梅林小区", "金桥新村"], DEFAULT_PARTY_NAMES) == ["金桥新村", "梅林小区"]
    flows.add_street("jinqiao", "金桥街道")
    flows.add_community("金桥新村", "jinqiao")
    # A restart seeds again, now with one more community and a city's own party.
    assert flows.seed(["金桥新村", "梅林小区", "翠湖苑"], {**DEFAULT_PARTY_NAMES, "water_utility": "水务"}) == [
        "翠湖苑"
    ]
    listing = flows.listing()
    assert {(c.name, c.street) for c in listing.communities} == {
        ("金桥新村", "jinqiao"),
        ("梅林小区", ""),
        ("翠湖苑", ""),
    }
    assert listing.parties["water_utility"] == "水务"
    with database.unit_of_work() as session:
        assert repository.communities_of_street("jinqiao", session=session) == frozenset({"金桥新村"})
        assert repository.communities_of_street("nowhere", session=session) == frozenset()


def test_the_directory_caches_and_the_flows_refresh_it(database: Database) -> None:
    now = [0.0]
    directory = CommunityDirectory(database, ttl_seconds=30, clock=lambda: now[0])
    flows = OrganisationFlows(database, directory)
    flows.seed(["梅林小区"], DEFAULT_PARTY_NAMES)
    assert directory.names() == frozenset({"梅林小区"})
    other_replica = OrganisationFlows(database)  # its writes reach this cache only when it expires
    other_replica.add_street("s1", "一号街道")
    other_replica.add_community("新社区", "s1")
    assert directory.names() == frozenset({"梅林小区"})
    now[0] = 31.0
    assert directory.names() == frozenset({"梅林小区", "新社区"})
    assert directory.of_street("s1") == frozenset({"新社区"})
    flows.add_community("另一个社区", "s1")  # this process's own write: seen at once
    assert directory.of_street("s1") == frozenset({"新社区", "另一个社区"})


def test_workers_are_checked_and_found(database: Database) -> None:
    flows = OrganisationFlows(database)
    flows.seed(["梅林小区"], DEFAULT_PARTY_NAMES)
    flows.add_street("s1", "一号街道")
    added = flows.add_worker(
        NewWorker("w-1", "street_office", street="s1", wecom_userid="zhangsan", display_name="张三")
    )
    with database.unit_of_work() as session:
        assert repository.worker_by_id("w-1", session=session) == added
        assert repository.worker_by_id("w-404", session=session) is None
    assert flows.signed_in_worker("zhangsan") == Worker("w-1", "street_office", street="s1")
    with pytest.raises(AlreadyExists):
        flows.add_worker(NewWorker("w-1", "street_office"))
    with pytest.raises(AlreadyExists, match="zhangsan"):
        flows.add_worker(NewWorker("w-2", "street_office", wecom_userid="zhangsan"))
    for bad, field in [
        (NewWorker("w-3", "nobody"), "party"),
        (NewWorker("w-3", "property_manager", community="火星小区"), "community"),
        (NewWorker("w-3", "property_manager", street="s404"), "street"),
        (NewWorker("w-3", "property_manager", community="梅林小区", street="s1"), "street"),
        (NewWorker("w 3", "property_manager"), "worker_id"),
        (NewWorker("w-3", "property_manager", role="boss"), "role"),
        (NewWorker("w-3", "property_manager", wecom_userid="有 空格"), "wecom_userid"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            flows.add_worker(bad)
        assert refused.value.violations[0].field == field
    flows.deactivate_worker("w-1", actor="admin:test")
    assert flows.signed_in_worker("zhangsan") is None
    with pytest.raises(NotFound):
        flows.deactivate_worker("w-404", actor="admin:test")
