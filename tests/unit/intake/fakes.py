"""Fakes and builders for intake's unit tests: a recording task queue and notifier, workers, flows on a database."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
from fastapi import FastAPI

from linli.catalog import load_catalog
from linli.grpc_tls import open_channel
from linli.settings import AuthSettings, GrpcTlsSettings
from linli.tokens import TokenCodec
from linli.v1 import routing_pb2
from services.intake.audit.flows import AuditLog
from services.intake.auth import Authenticator, Role, Worker
from services.intake.auth.http import HttpSecurity
from services.intake.auth.residents import DevVerifier, ResidentLogin
from services.intake.auth.revocations import Revocations
from services.intake.database import Database
from services.intake.http_app import create_http_app
from services.intake.messages.flows import MessageFlows
from services.intake.notifications.events import OutboundEvent
from services.intake.ratelimit import RateLimiter
from services.intake.ratelimit.http import ClientAddresses
from services.intake.settings import IntakeSettings
from services.intake.tickets.context import FlowContext, LifecyclePolicy
from services.intake.tickets.duplicates import Embedding
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.learning import LearningFlows
from services.intake.tickets.sweeps import SweepFlows
from services.intake.tickets.validation import Submission
from services.intake.triage.flows import TriageFlows
from services.intake.web.faces import FaceServices, build_face_services
from tests.tokens import service_metadata
from tests.unit.fakes import StepClock


def http_security(
    limiter: RateLimiter | None = None,
    trusted_proxies: tuple[str, ...] = (),
    *,
    codec: TokenCodec | None = None,
    revocations: Revocations | None = None,
) -> HttpSecurity:
    """Tokens of the run's key (or of `codec`), development logins, no revoked subjects unless `revocations` are
    given, and no rate limit unless one is given."""
    codec = codec or TokenCodec.from_settings(AuthSettings())
    return HttpSecurity(
        Authenticator(codec, revocations),
        ResidentLogin(DevVerifier(), codec, ttl=timedelta(hours=1)),
        limiter or RateLimiter.unlimited(),
        ClientAddresses(trusted_proxies),
    )


def face_services(flows: TicketFlows, database: Database, settings: IntakeSettings | None = None) -> FaceServices:
    """The pages' services as intake's create_server wires them, over `settings` (default: the environment's) and a
    channel to a retrieval nobody serves (instant answers then fall back, as when retrieval is down)."""
    settings = settings if settings is not None else IntakeSettings()
    return build_face_services(
        flows,
        database,
        settings,
        resident_login=AuthSettings().resident_verifier,
        catalog=load_catalog(),
        retrieval_channel=open_channel(settings.retrieval_target, GrpcTlsSettings()),
        retrieval_credentials=lambda: service_metadata("intake"),
    )


def audited_http_app(intake: Intake, audit: AuditLog, *, limiter: RateLimiter | None = None, **extras: Any) -> FastAPI:
    """The real HTTP app over `intake`'s flows, ready, recording personal-data reads in `audit`; `extras` are
    create_http_app's optional services (erasure, exports, ...)."""
    ready = threading.Event()
    ready.set()
    security = dataclasses.replace(http_security(limiter), audit=audit)
    database = intake.database
    return create_http_app(
        intake.flows, security, database, ready, faces=face_services(intake.flows, database), **extras
    )


PROPERTY = Worker("w-7", "property_manager", "恒康居民区")
STREET = Worker("w-2", "street_office", "恒康居民区")
OWNERS = Worker("w-5", "owners_committee", "恒康居民区")
DISPATCHER = Worker("d-1", "street_office", "恒康居民区", Role.DISPATCHER)
ELSEWHERE = Worker("w-9", "property_manager", "梅林小区")


class RecordingTaskQueue:
    """Records the tasks it was asked to queue; can be made to fail like a dead broker."""

    def __init__(self, *, broken: bool = False) -> None:
        self.triage: list[str] = []
        self.case_sync: list[str] = []
        self.broken = broken

    def enqueue_triage(self, ticket_id: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.triage.append(ticket_id)

    def enqueue_case_sync(self, ticket_id: str) -> None:
        if self.broken:
            raise ConnectionError("broker down")
        self.case_sync.append(ticket_id)


class RecordingNotifier:
    """Records published events."""

    def __init__(self) -> None:
        self.events: list[OutboundEvent] = []

    def publish(self, event: OutboundEvent) -> None:
        self.events.append(event)

    def kinds(self, ticket_id: str | None = None) -> list[str]:
        return [e.kind for e in self.events if ticket_id is None or e.ticket_id == ticket_id]


@dataclass
class Intake:
    """Every flow over one database, with the fakes they publish to."""

    database: Database
    queue: RecordingTaskQueue = field(default_factory=RecordingTaskQueue)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    clock: StepClock = field(default_factory=StepClock)
    policy: LifecyclePolicy = field(default_factory=LifecyclePolicy)

    def __post_init__(self) -> None:
        self.context = FlowContext(self.database, self.queue, self.clock, self.policy, self.notifier)
        self.flows = TicketFlows(self.context)
        self.triage = TriageFlows(self.context)
        self.sweeps = SweepFlows(self.context)
        self.learning = LearningFlows(self.context)
        self.messages = MessageFlows(self.context)


def decision(
    party: str = "property_manager",
    confidence: float = 0.9,
    *,
    abstained: bool = False,
    urgency: routing_pb2.Urgency = routing_pb2.URGENCY_UNSPECIFIED,
    sla_hours: int = 0,
    level: routing_pb2.EscalationLevel = routing_pb2.ESCALATION_LEVEL_UNSPECIFIED,
    entry_id: str = "",
) -> routing_pb2.RoutingDecision:
    """A routing decision as the router sends it."""
    return routing_pb2.RoutingDecision(
        party="" if abstained else party,
        confidence=confidence,
        abstained=abstained,
        rationale=routing_pb2.Rationale(
            summary="相似案例投票",
            catalog_entry=routing_pb2.CatalogMatch(entry_id=entry_id, party=party) if entry_id else None,
        ),
        urgency=urgency,
        sla_hours=sla_hours,
        escalation_level=level,
        co_parties=["street_office"] if entry_id else [],
    )


def embedding(*components: float, model: str = "m3e-small") -> Embedding:
    """A unit vector in the direction given."""
    vector = np.asarray(components, dtype=np.float32)
    return Embedding(vector / np.linalg.norm(vector), model)


def resolved_ticket(intake: Intake, text: str, *, resident_id: str = "r-1", community: str = "恒康居民区") -> str:
    """A ticket routed to the property manager, who resolved it just now."""
    ticket_id = intake.flows.submit(Submission(text=text, community=community, resident_id=resident_id))[0].ticket.id
    intake.triage.record_triage(ticket_id, decision())
    intake.flows.accept(ticket_id, PROPERTY)
    intake.flows.resolve(ticket_id, PROPERTY, resolution="已修好")
    return ticket_id
