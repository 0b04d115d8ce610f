"""Deactivating a worker ends their sessions: the tokens they hold (a WeCom login's, or one `linli token issue`
printed) are refused at once over HTTP; reactivating lets them sign in again, with new tokens only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.settings import AuthSettings
from linli.tokens import Role, TokenCodec, TokenKind
from services.cli.main import main as linli
from services.intake.auth.revocations import Revocations
from services.intake.organisation.flows import NewWorker
from tests.tokens import TEST_TTL, as_worker, bearer
from tests.unit.intake.organisation.harness import OrgApp, migrated, org_app

ADMIN = as_worker("admin-1", "street_office", role="admin")
LATER_SECONDS = 5.0  # a token signed after the deactivation's second


def codec(shift_seconds: float = 0.0) -> TokenCodec:
    keys = AuthSettings().signing_keys()
    return TokenCodec(keys, clock=lambda: time.time() + shift_seconds)


def token_of(worker_id: str, shift_seconds: float = 0.0) -> dict[str, str]:
    """A property manager's token for 恒康居民区, as the WeCom login signs it."""
    token, _ = codec(shift_seconds).issue(
        TokenKind.WORKER, worker_id, ttl=TEST_TTL, party="property_manager", community="恒康居民区", role=Role.WORKER
    )
    return bearer(token)


@pytest.fixture
def org(tmp_path: Path) -> Iterator[OrgApp]:
    with org_app(migrated(tmp_path)) as built:
        built.organisation.add_worker(NewWorker("w-7", "property_manager", "恒康居民区", wecom_userid="zhang"))
        yield built


def test_a_deactivated_workers_token_is_refused_at_once(org: OrgApp) -> None:
    client = org.client
    held = token_of("w-7")
    assert client.get("/v1/workers/me", headers=held).status_code == 200
    assert client.get("/v1/tickets", headers=held).status_code == 200

    off = client.post("/v1/org/workers/w-7/deactivate", headers=ADMIN)
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    for path in ("/v1/workers/me", "/v1/tickets"):
        refused = client.get(path, headers=held)
        assert refused.status_code == 401, path
    assert client.get("/v1/workers/me", headers=token_of("w-8")).status_code == 200  # nobody else
    revoked = {(r.kind, r.subject): r for r in Revocations(org.intake.database).current()}
    assert revoked[(TokenKind.WORKER, "w-7")].actor == "worker:admin-1"

    on = client.post("/v1/org/workers/w-7/activate", headers=ADMIN)
    assert on.status_code == 200, on.text
    assert on.json()["active"] is True
    assert client.get("/v1/workers/me", headers=held).status_code == 401  # that session stays ended
    assert client.get("/v1/workers/me", headers=token_of("w-7", LATER_SECONDS)).status_code == 200


def test_only_admins_deactivate_and_unknown_workers_are_404(org: OrgApp) -> None:
    client = org.client
    dispatcher = as_worker("d-1", "street_office", role="dispatcher")
    for action in ("deactivate", "activate"):
        assert client.post(f"/v1/org/workers/w-7/{action}", headers=dispatcher).status_code == 403
        assert client.post(f"/v1/org/workers/w-7/{action}", headers=token_of("w-7")).status_code == 403
        assert client.post(f"/v1/org/workers/w-404/{action}", headers=ADMIN).status_code == 404
    assert client.get("/v1/workers/me", headers=token_of("w-7")).status_code == 200  # still active
    assert Revocations(org.intake.database).current() == []  # refused attempts revoked nobody


def test_the_command_line_deactivation_reaches_a_running_intake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.sqlite'}"
    monkeypatch.setenv("LINLI_INTAKE_DATABASE_URL", url)
    with org_app(migrated(tmp_path)) as org:
        org.organisation.add_worker(NewWorker("w-7", "property_manager", "恒康居民区"))
        held = token_of("w-7")
        assert org.client.get("/v1/workers/me", headers=held).status_code == 200
        assert linli(["org", "worker", "deactivate", "w-7", "--actor", "operator:li"]) == 0
        assert "issued tokens revoked" in capsys.readouterr().out
        # Another process wrote it: this one's deny-list re-reads within its refresh interval; not waiting here.
        org.client.app.state.security.authenticator.revocations.forget_snapshot()  # type: ignore[attr-defined]
        assert org.client.get("/v1/workers/me", headers=held).status_code == 401
        assert linli(["org", "worker", "activate", "w-7"]) == 0
        assert "may sign in again" in capsys.readouterr().out
        assert org.client.get("/v1/workers/me", headers=token_of("w-7", LATER_SECONDS)).status_code == 200
        assert linli(["org", "worker", "activate", "w-404"]) == 1
