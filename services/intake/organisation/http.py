"""HTTP side of the organisation: admins list and add streets, communities and workers (`/v1/org/*`); any worker
asks for their colleagues (`GET /v1/org/colleagues`, to hand a ticket to one of them); anyone reads the communities
a resident may report from (`GET /v1/communities`, for the mini-program's picker)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from linli.errors import PermissionDenied
from linli.tokens import Role
from services.intake.auth.http import WorkerDep
from services.intake.auth.identity import Worker
from services.intake.organisation.flows import NewWorker, OrganisationFlows
from services.intake.organisation.repository import CommunityRecord, StreetRecord, WorkerRecord


class StreetBody(BaseModel):
    """A street to add (or rename)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    code: str = Field(max_length=64, description="Short code, letters, digits, - and _, e.g. beixinjing.")
    name: str = Field(max_length=128, description="The street's name, e.g. 北新泾街道.")


class StreetOut(BaseModel):
    """A street."""

    code: str
    name: str


class CommunityBody(BaseModel):
    """A community to add, or to move to another street."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(max_length=128, description="The name tickets carry, e.g. 金桥新村.")
    street: str = Field("", max_length=64, description="The street's code; empty: on no street yet.")


class CommunityOut(BaseModel):
    """A community: its name, its street's code ('' for none) and whether it takes new tickets."""

    name: str
    street: str
    active: bool


class WorkerBody(BaseModel):
    """A worker to add: their party, and a community or a street (neither: every community)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    worker_id: str = Field(max_length=128, description="The id tickets' history shows, e.g. w-7.")
    party: str = Field(max_length=64, description="The party they act for, e.g. property_manager.")
    community: str = Field("", max_length=128, description="The one community they serve.")
    street: str = Field("", max_length=64, description="The street (code) whose every community they serve.")
    role: str = Field("worker", description="worker, dispatcher or admin.")
    wecom_userid: str = Field("", max_length=64, description="Their WeCom (企业微信) userid, for WeCom login.")
    display_name: str = Field("", max_length=128, description="Their name as colleagues see it.")


class WorkerAccountOut(BaseModel):
    """A worker of the organisation."""

    worker_id: str
    display_name: str
    party: str
    community: str
    street: str
    role: str
    wecom_userid: str | None
    active: bool
    created_at: datetime


class ColleagueOut(BaseModel):
    """A colleague a ticket can be handed to."""

    worker_id: str
    display_name: str
    community: str
    street: str
    role: str


def _street_out(street: StreetRecord) -> StreetOut:
    return StreetOut(code=street.code, name=street.name)


def _community_out(community: CommunityRecord) -> CommunityOut:
    return CommunityOut(name=community.name, street=community.street, active=community.active)


def _worker_out(record: WorkerRecord) -> WorkerAccountOut:
    return WorkerAccountOut(
        worker_id=record.worker_id,
        display_name=record.display_name,
        party=record.party,
        community=record.community,
        street=record.street,
        role=record.role,
        wecom_userid=record.wecom_userid,
        active=record.active,
        created_at=record.created_at,
    )


def require_admin(worker: Worker) -> Worker:
    """The worker, when an admin; PermissionDenied otherwise."""
    if worker.role is not Role.ADMIN:
        raise PermissionDenied("只有管理员可以查看和修改组织架构")
    return worker


class CommunityChoicesOut(BaseModel):
    """The communities a resident may report from, in the order a picker offers them."""

    communities: list[str]


# A picker's list changes when an admin adds a community: a client may keep it this long.
COMMUNITIES_MAX_AGE_SECONDS = 300


def community_choice_routes(choices: Callable[[], list[str]]) -> APIRouter:
    """GET /v1/communities: public, as the H5 form that lists them is; `choices` gives them in the form's order."""
    router = APIRouter(prefix="/v1", tags=["organisation"])

    @router.get("/communities", response_model=CommunityChoicesOut)
    def list_choices(response: Response) -> CommunityChoicesOut:
        """The active communities residents may report from (the configured ones first, then those admins added),
        so that a published mini-program offers a new community without a new release."""
        response.headers["Cache-Control"] = f"public, max-age={COMMUNITIES_MAX_AGE_SECONDS}"
        return CommunityChoicesOut(communities=choices())

    return router


def organisation_routes(flows: OrganisationFlows) -> APIRouter:
    """GET/POST /v1/org/streets, /v1/org/communities and /v1/org/workers, POST /v1/org/workers/{id}/deactivate and
    /activate (admins), GET /v1/org/colleagues."""
    router = APIRouter(prefix="/v1/org", tags=["organisation"])
    _add_place_routes(router, flows)
    _add_worker_routes(router, flows)
    return router


def _add_place_routes(router: APIRouter, flows: OrganisationFlows) -> None:
    """Streets and communities."""

    @router.get("/streets", response_model=list[StreetOut])
    def list_streets(worker: WorkerDep) -> list[StreetOut]:
        """Every street; admins only."""
        require_admin(worker)
        return [_street_out(street) for street in flows.listing().streets]

    @router.post("/streets", response_model=StreetOut, status_code=201)
    def add_street(body: StreetBody, worker: WorkerDep) -> StreetOut:
        """Adds a street, or renames the one of this code; admins only, 422 for a bad code or name."""
        require_admin(worker)
        return _street_out(flows.add_street(body.code, body.name))

    @router.get("/communities", response_model=list[CommunityOut])
    def list_communities(worker: WorkerDep) -> list[CommunityOut]:
        """Every community, with its street; admins only."""
        require_admin(worker)
        return [_community_out(community) for community in flows.listing().communities]

    @router.post("/communities", response_model=CommunityOut, status_code=201)
    def add_community(body: CommunityBody, worker: WorkerDep) -> CommunityOut:
        """Adds a community (tickets may name it at once), or moves one to a street; 422 for an unknown street."""
        require_admin(worker)
        return _community_out(flows.add_community(body.name, body.street))


def _add_worker_routes(router: APIRouter, flows: OrganisationFlows) -> None:
    """Workers (admins) and a worker's colleagues."""

    @router.get("/workers", response_model=list[WorkerAccountOut])
    def list_workers(worker: WorkerDep) -> list[WorkerAccountOut]:
        """Every worker, active or not; admins only."""
        require_admin(worker)
        return [_worker_out(record) for record in flows.listing().workers]

    @router.post("/workers", response_model=WorkerAccountOut, status_code=201)
    def add_worker(body: WorkerBody, worker: WorkerDep) -> WorkerAccountOut:
        """Adds a worker; 422 for a bad field or an unknown party, community or street, 409 for a taken id or
        WeCom userid."""
        require_admin(worker)
        new = NewWorker(
            worker_id=body.worker_id,
            party=body.party,
            community=body.community,
            street=body.street,
            role=body.role,
            wecom_userid=body.wecom_userid,
            display_name=body.display_name,
        )
        return _worker_out(flows.add_worker(new))

    @router.post("/workers/{worker_id}/deactivate", response_model=WorkerAccountOut)
    def deactivate_worker(worker_id: str, worker: WorkerDep) -> WorkerAccountOut:
        """Stops the worker's WeCom logins and ends their sessions (their tokens issued until now are revoked);
        admins only, 404 for an unknown id."""
        require_admin(worker)
        return _worker_out(flows.deactivate_worker(worker_id, actor=worker.actor))

    @router.post("/workers/{worker_id}/activate", response_model=WorkerAccountOut)
    def activate_worker(worker_id: str, worker: WorkerDep) -> WorkerAccountOut:
        """Lets a deactivated worker sign in again (their earlier tokens stay revoked); admins only, 404 for an
        unknown id."""
        require_admin(worker)
        return _worker_out(flows.activate_worker(worker_id))

    @router.get("/colleagues", response_model=list[ColleagueOut])
    def colleagues(worker: WorkerDep) -> list[ColleagueOut]:
        """The active workers of the caller's party who serve a community the caller serves."""
        return [
            ColleagueOut(
                worker_id=record.worker_id,
                display_name=record.display_name,
                community=record.community,
                street=record.street,
                role=record.role,
            )
            for record in flows.colleagues(worker)
        ]
