"""`linli org`: streets, communities and workers from the command line, in LINLI_INTAKE_DATABASE_URL's store (seeded
from the settings as intake's start would), and `linli token issue --street`."""

from __future__ import annotations

from pathlib import Path

import pytest

from linli.tokens import Role
from services.cli.main import main as linli
from services.intake.database import Database
from services.intake.organisation import repository
from tests.tokens import environment_codec


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    url = f"sqlite:///{tmp_path / 'tickets.sqlite'}"
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", url)
    monkeypatch.setenv("LINLI_INTAKE_KNOWN_COMMUNITIES", '["金桥新村", "梅林小区", "翠湖苑"]')
    return Database(url)


def test_streets_communities_and_workers_from_the_command_line(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert linli(["org", "street", "add", "jinqiao", "金桥街道"]) == 0
    assert capsys.readouterr().out == "street jinqiao: 金桥街道\n"
    assert linli(["org", "community", "add", "金桥新村", "--street", "jinqiao"]) == 0
    assert linli(["org", "community", "add", "浦东新村", "--street", "jinqiao"]) == 0
    capsys.readouterr()
    argv = ["org", "worker", "add", "w-31", "--party", "street_office", "--street", "jinqiao"]
    assert linli([*argv, "--role", "dispatcher", "--wecom-userid", "wangwu", "--name", "王五"]) == 0
    assert capsys.readouterr().out == "worker w-31 (street_office, dispatcher) serves street jinqiao\n"
    assert linli(["org", "worker", "add", "w-32", "--party", "property_manager", "--community", "梅林小区"]) == 0

    assert linli(["org", "list"]) == 0
    listing = capsys.readouterr().out
    assert "  jinqiao  金桥街道\n" in listing
    assert "  金桥新村  street=jinqiao\n" in listing
    assert "  翠湖苑  street=-\n" in listing  # seeded from LINLI_INTAKE_KNOWN_COMMUNITIES
    assert "  street_office  街道/社区\n" in listing
    assert "  w-31  street_office  dispatcher  street=jinqiao  wecom=wangwu\n" in listing

    assert linli(["org", "worker", "deactivate", "w-31"]) == 0
    with database.unit_of_work() as session:
        worker = repository.worker_by_id("w-31", session=session)
        assert worker is not None
        assert (worker.active, worker.display_name, worker.role) == (False, "王五", "dispatcher")
        assert repository.communities_of_street("jinqiao", session=session) == frozenset({"金桥新村", "浦东新村"})
    database.dispose()


def test_bad_arguments_say_why(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert linli(["org", "community", "add", "新社区", "--street", "nowhere"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert linli(["org", "worker", "add", "w-1", "--party", "nobody"]) == 2
    assert "party" in capsys.readouterr().err
    assert linli(["org", "worker", "deactivate", "w-404"]) == 1
    assert "w-404" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: a community and a street at once
        linli(["org", "worker", "add", "w-1", "--party", "street_office", "--community", "金桥新村", "--street", "s"])
    database.dispose()


def test_a_street_token_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["token", "issue", "--worker-id", "w-31", "--party", "street_office", "--street", "jinqiao"]
    assert linli(argv) == 0
    claims = environment_codec().verify(capsys.readouterr().out.strip())
    assert (claims.street, claims.community, claims.role) == ("jinqiao", "", Role.WORKER)
    assert linli([*argv, "--community", "金桥新村"]) == 2
    assert "not both" in capsys.readouterr().err
