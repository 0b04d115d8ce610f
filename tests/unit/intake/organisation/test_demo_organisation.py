"""`linli dev` gives a newcomer a console login: its environment turns the development WeCom verifier on (on a
loopback address only), and an empty workers table gets a demo street and demo workers, once, who sign in with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.parties import DEFAULT_PARTIES
from services.cli.devstack import console_logins, prepare_demo_organisation, stack_environment
from services.intake.auth.settings import WecomSettings
from services.intake.auth.wecom import create_wecom_login
from services.intake.database import Database
from services.intake.organisation import repository
from services.intake.organisation.demo import DEMO_STREET_CODE, seed_demo_organisation
from services.intake.organisation.flows import NewWorker, OrganisationFlows
from services.intake.settings import DEFAULT_COMMUNITIES, IntakeSettings
from tests.tokens import bearer, environment_codec
from tests.unit.intake.organisation.harness import DEFAULT_PARTY_NAMES, OrgApp, migrated, org_app

FIRST = DEFAULT_COMMUNITIES[0]
HOME = "恒康居民区"  # the dev stack's example community
JSON = {"Accept": "application/json"}


def seeded(folder: Path) -> Database:
    database = migrated(folder)
    OrganisationFlows(database).seed(DEFAULT_COMMUNITIES, DEFAULT_PARTY_NAMES)
    return database


def test_an_empty_organisation_gets_the_demo_street_and_workers_once(tmp_path: Path) -> None:
    database = seeded(tmp_path)
    added = seed_demo_organisation(database, DEFAULT_COMMUNITIES)
    by_userid = {worker.wecom_userid: worker for worker in added}
    assert set(by_userid) == {"wuye", "yeweihui", "shequ", "jiedao", "admin"}
    assert {by_userid[u].party for u in ("wuye", "yeweihui", "shequ")} == set(DEFAULT_PARTIES)
    assert all(by_userid[u].community == FIRST for u in ("wuye", "yeweihui", "shequ"))
    street = by_userid["jiedao"]
    assert (street.party, street.street, street.community, street.role) == (
        "street_office",
        DEMO_STREET_CODE,
        "",
        "worker",
    )
    admin = by_userid["admin"]
    assert (admin.role, admin.community, admin.street) == ("admin", "", "")
    with database.unit_of_work() as session:
        assert repository.communities_of_street(DEMO_STREET_CODE, session=session) == frozenset(DEFAULT_COMMUNITIES)

    assert seed_demo_organisation(database, DEFAULT_COMMUNITIES, home=HOME) == []  # the second start adds nothing
    with database.unit_of_work() as session:
        assert len(repository.workers(session=session)) == len(added)
    database.dispose()


def test_the_demo_parties_serve_the_home_community_when_it_is_one_of_them(tmp_path: Path) -> None:
    database = seeded(tmp_path)
    added = {w.wecom_userid: w.community for w in seed_demo_organisation(database, DEFAULT_COMMUNITIES, home=HOME)}
    assert added == {"wuye": HOME, "yeweihui": HOME, "shequ": HOME, "jiedao": "", "admin": ""}
    database.dispose()
    (tmp_path / "other").mkdir()
    other = seeded(tmp_path / "other")
    elsewhere = seed_demo_organisation(other, DEFAULT_COMMUNITIES, home="火星小区")  # not served: the first instead
    assert {w.community for w in elsewhere} == {FIRST, ""}
    other.dispose()


def test_an_organisation_with_a_worker_is_left_alone(tmp_path: Path) -> None:
    database = seeded(tmp_path)
    OrganisationFlows(database).add_worker(NewWorker("w-1", "property_manager", FIRST))
    assert seed_demo_organisation(database, DEFAULT_COMMUNITIES) == []
    with database.unit_of_work() as session:
        assert repository.streets(session=session) == []
        assert [w.worker_id for w in repository.workers(session=session)] == ["w-1"]
        assert repository.communities_of_street(DEMO_STREET_CODE, session=session) == frozenset()
    database.dispose()


def test_the_dev_stack_turns_the_dev_wecom_verifier_on_only_on_loopback() -> None:
    assert stack_environment({}, intake_host="127.0.0.1")["LINLI_WECOM_VERIFIER"] == "dev"
    assert "LINLI_WECOM_VERIFIER" not in stack_environment({}, intake_host="0.0.0.0")  # noqa: S104
    chosen = stack_environment({"LINLI_WECOM_VERIFIER": "wecom"}, intake_host="127.0.0.1")
    assert chosen["LINLI_WECOM_VERIFIER"] == "wecom"


@pytest.fixture
def dev_stack_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OrgApp]:
    """The app with the WeCom login the dev stack's environment configures, over the database it prepared."""
    for name, value in stack_environment({}, intake_host="127.0.0.1").items():
        if name.startswith("LINLI_WECOM_"):
            monkeypatch.setenv(name, value)
    settings = IntakeSettings(database_url=f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    logins = prepare_demo_organisation(settings)
    assert [worker.wecom_userid for worker in logins] == ["admin", "jiedao", "shequ", "wuye", "yeweihui"]
    database = Database(settings.database_url)
    lookup = OrganisationFlows(database).signed_in_worker
    wecom = create_wecom_login(
        WecomSettings(), environment_codec(), state_key=b"k" * 32, lookup=lookup, host="127.0.0.1"
    )
    assert wecom is not None
    assert wecom.is_dev
    with org_app(database, wecom) as built:
        yield built


def sign_in(app: OrgApp, userid: str) -> dict[str, str]:
    started = app.client.get("/v1/auth/wecom/start", params={"dev_userid": userid}, follow_redirects=False)
    assert started.status_code == 302, started.text
    session = app.client.get(started.headers["location"], headers=JSON)
    assert session.status_code == 200, session.text
    return bearer(session.json()["token"])


def test_a_demo_worker_signs_in_with_the_dev_verifier(dev_stack_app: OrgApp) -> None:
    me = dev_stack_app.client.get("/v1/workers/me", headers=sign_in(dev_stack_app, "wuye")).json()
    assert (me["worker_id"], me["party"], me["community"]) == ("demo-wuye", "property_manager", HOME)
    assert me["display_name"] == "王师傅(物业)"
    street = dev_stack_app.client.get("/v1/workers/me", headers=sign_in(dev_stack_app, "jiedao")).json()
    assert (street["street"], sorted(street["communities"])) == (DEMO_STREET_CODE, sorted(DEFAULT_COMMUNITIES))
    workers = dev_stack_app.client.get("/v1/org/workers", headers=sign_in(dev_stack_app, "admin"))
    assert workers.status_code == 200  # the demo admin administers the organisation


def test_the_dev_stack_says_how_to_sign_in(tmp_path: Path) -> None:
    logins = prepare_demo_organisation(IntakeSettings(database_url=f"sqlite:///{tmp_path / 'tickets.sqlite'}"))
    text = console_logins("http://127.0.0.1:8080", logins)
    assert text.startswith("控制台: http://127.0.0.1:8080/console/ 企业微信(开发) 用户")
    assert f"  wuye       王师傅(物业)  物业 · {HOME} · worker\n" in text
    assert "  jiedao     陈科长(街道)  街道/社区 · 街道 demo · worker\n" in text
    assert console_logins("http://127.0.0.1:8080", []) == ""
