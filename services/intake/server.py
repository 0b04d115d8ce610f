"""The intake process: the gRPC server and the HTTP API over the same ticket flows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import uvicorn
from fastapi import FastAPI

from linli.catalog import load_catalog
from linli.grpc_auth import ServiceCredentials
from linli.grpc_serving import ServerHandle, build_server
from linli.grpc_tls import open_channel
from linli.heap import freeze_startup_objects
from linli.logs import configure_logging
from linli.parties import display_name
from linli.tokens import TokenCodec
from linli.v1 import intake_pb2, intake_pb2_grpc
from services.intake.audit.flows import AuditLog, Pseudonyms
from services.intake.auth import Authenticator
from services.intake.auth.http import HttpSecurity
from services.intake.auth.residents import ResidentLogin, ResidentVerifier, create_verifier
from services.intake.auth.revocations import Revocations
from services.intake.auth.sms_login import SmsWiring, create_sms_login
from services.intake.auth.wechat_web import create_web_login
from services.intake.auth.wecom import create_wecom_login
from services.intake.dashboards.flows import DashboardFlows
from services.intake.database import Database
from services.intake.exports.flows import ExportFlows
from services.intake.exports.models import not_recorded
from services.intake.http_app import create_http_app
from services.intake.inbox.directory import DirectoryColleagues
from services.intake.inbox.flows import InboxFlows
from services.intake.messages.flows import MessageFlows
from services.intake.notifications import create_notifier
from services.intake.observability import grpc_metrics, instrument_http
from services.intake.organisation.flows import OrganisationFlows
from services.intake.ratelimit import RateLimiter
from services.intake.ratelimit.grpc_peers import PeerRateLimitInterceptor
from services.intake.ratelimit.http import ClientAddresses
from services.intake.residents.erasure import ErasureFlows
from services.intake.settings import IntakeConfig
from services.intake.tickets.context import Clock, FlowContext, LifecyclePolicy, Notifier, TaskQueue, utc_now
from services.intake.tickets.flows import TicketFlows
from services.intake.tickets.orphans import return_orphans
from services.intake.tickets.servicer import IntakeServicer
from services.intake.uploads.assembly import create_uploads
from services.intake.web.faces import FaceServices, build_face_services
from services.intake.worker.celery_app import CeleryTaskQueue, create_celery_app

logger = logging.getLogger(__name__)

DATABASE_READY_SECONDS = 60.0
# How intake names itself in the service tokens it signs for retrieval (instant answers' case search).
INTAKE_CALLER_NAME = "intake"
SERVICE_NAME = intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name


@dataclass
class IntakeDeps:
    """What intake needs; anything left None is built from the IntakeConfig main() read."""

    database: Database | None = None
    queue: TaskQueue | None = None
    notifier: Notifier | None = None
    codec: TokenCodec | None = None
    verifier: ResidentVerifier | None = None
    limiter: RateLimiter | None = None
    clock: Clock = utc_now


@dataclass
class IntakeServer:
    """The running gRPC server and the HTTP app, sharing one set of flows."""

    grpc: ServerHandle
    http: FastAPI
    flows: TicketFlows
    context: FlowContext
    database: Database


def create_server(config: IntakeConfig, deps: IntakeDeps | None = None) -> IntakeServer:
    """Starts the intake gRPC server and builds the HTTP app; both are ready once the migrations ran."""
    deps = deps or IntakeDeps()
    settings = config.intake
    database = deps.database or Database(settings.database_url, pool_size=settings.database_pool_size)
    queue, notifier = deps.queue, deps.notifier
    if queue is None or notifier is None:
        app = create_celery_app(settings)
        queue = queue or CeleryTaskQueue(app)
        notifier = notifier or create_notifier(config.notifications, celery_app=app)
    # Communities, streets and workers live in the database; LINLI_INTAKE_KNOWN_COMMUNITIES seeds them at start.
    # Deactivating a worker revokes their tokens: this process's deny-list hears of it at once.
    revocations = Revocations(database, refresh_seconds=config.process.auth.revocation_refresh_seconds)
    organisation = OrganisationFlows(database, revocations=revocations)
    policy = LifecyclePolicy.from_settings(settings)
    context = FlowContext(database, queue, deps.clock, policy, notifier, communities=organisation.directory.names)
    uploads = create_uploads(context, config.uploads, secrets=config.process.auth.signing_keys())
    flows = TicketFlows(context, uploads.flows)
    security = build_security(config, deps, database, organisation, revocations)
    messages = MessageFlows(context)
    alias = security.audit.pseudonyms.of if security.audit is not None else None
    servicer = IntakeServicer(flows, security.authenticator, security.limiter, messages, alias)
    handle = build_server(
        host=settings.host,
        port=settings.grpc_port,
        workers=settings.workers,
        service_names=[SERVICE_NAME],
        register=lambda server: intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, server),
        interceptors=[PeerRateLimitInterceptor(security.limiter, security.addresses)],
        metrics=grpc_metrics(),
        tls=config.process.tls,
    )
    erasure = ErasureFlows(context, security.authenticator.revocations, uploads.store)
    dashboards = DashboardFlows(database, organisation.directory.of_street)
    # build_security always sets the audit log; HttpSecurity leaves it optional for tests of other things.
    on_export = security.audit.export_recorder() if security.audit else not_recorded
    http = create_http_app(
        flows,
        security,
        database,
        handle.ready,
        erasure,
        messages,
        uploads,
        faces=build_faces(config, flows, database),
        organisation=organisation,
        dashboards=dashboards,
        exports=ExportFlows(database, dashboards, on_export=on_export, clock=context.clock),
        inbox=InboxFlows(context, flows, DirectoryColleagues()),
    )
    instrument_http(http, database=database, broker_url=settings.broker_url)
    handle.load_then_serve(lambda: _prepare_database(context, organisation, config))
    return IntakeServer(handle, http, flows, context, database)


def build_faces(config: IntakeConfig, flows: TicketFlows, database: Database) -> FaceServices:
    """The pages' services, over the packaged catalog and a channel to retrieval."""
    settings = config.intake
    return build_face_services(
        flows,
        database,
        settings,
        resident_login=config.process.auth.resident_verifier,
        catalog=load_catalog(),
        retrieval_channel=open_channel(settings.retrieval_target, config.process.tls),
        retrieval_credentials=ServiceCredentials.from_settings(INTAKE_CALLER_NAME, config.process.auth).metadata,
    )


def build_security(
    config: IntakeConfig,
    deps: IntakeDeps,
    database: Database,
    organisation: OrganisationFlows,
    revocations: Revocations,
) -> HttpSecurity:
    """Token keys, the revoked subjects (`revocations`), the streets' communities of `organisation`, the residents'
    logins (mini-program, SMS, official account), the workers' WeCom login and the rate limits; raises RuntimeError,
    saying what to set, when the settings lack a key or a usable login verifier (the server then refuses to
    start)."""
    auth, rates, settings = config.process.auth, config.rates, config.intake
    codec = deps.codec or TokenCodec.from_settings(auth)
    verifier = deps.verifier or create_verifier(auth, host=settings.host)
    limiter = deps.limiter or RateLimiter.from_settings(rates, broker_url=settings.broker_url)
    ttl = timedelta(hours=auth.resident_token_ttl_hours)
    login = ResidentLogin(verifier, codec, ttl=ttl)
    sms = create_sms_login(
        config.sms,
        SmsWiring(database, codec, lambda: auth.signing_keys()[0], limiter, ttl, settings.host, deps.clock),
    )
    web = create_web_login(
        config.wechat_oa, codec, resident_verifier=auth.resident_verifier, host=settings.host, token_ttl=ttl
    )
    wecom = create_wecom_login(
        config.wecom,
        codec,
        state_key=auth.signing_keys()[0],
        lookup=organisation.signed_in_worker,
        host=settings.host,
    )
    addresses = ClientAddresses(rates.trusted_proxies)
    # Read on first use, like the SMS keys: intake may run on an injected codec without LINLI_AUTH_SECRETS.
    audit = AuditLog(database, Pseudonyms.from_signing_key(lambda: auth.signing_keys()[0]), clock=deps.clock)
    authenticator = Authenticator(codec, revocations, street_communities=organisation.directory.of_street)
    return HttpSecurity(authenticator, login, limiter, addresses, sms=sms, web=web, wecom=wecom, audit=audit)


def _prepare_database(context: FlowContext, organisation: OrganisationFlows, config: IntakeConfig) -> None:
    revision = context.database.upgrade_schema()
    logger.info("ticket database migrated", extra={"revision": revision})
    settings = config.intake
    parties = {party: display_name(party) for party in settings.parties}
    if seeded := organisation.seed(settings.known_communities, parties):
        logger.info("communities seeded from LINLI_INTAKE_KNOWN_COMMUNITIES", extra={"communities": seeded})
    if returned := return_orphans(context):
        logger.warning("tickets held by no known party returned to the manual queue", extra={"tickets": returned})


def main() -> int:
    """Serves HTTP and gRPC until SIGTERM or SIGINT; uvicorn drains HTTP, then gRPC stops gracefully."""
    config = IntakeConfig.from_environment()
    configure_logging("intake", config.process.log)
    settings = config.intake
    try:
        server = create_server(config)
    except RuntimeError as error:  # no token key or no usable login verifier: say what to set, not a traceback
        logger.error("intake cannot start: %s", error)
        return 2
    try:
        # Migrations are quick; a database that does not answer is a reason to exit, not to idle.
        if not server.grpc.wait_ready(DATABASE_READY_SECONDS):
            logger.error("the ticket database is not usable; exiting", extra={"error": str(server.grpc.load_error)})
            return 1
        logger.info(
            "intake listening",
            extra={"grpc": f"{settings.host}:{server.grpc.port}", "http": f"{settings.host}:{settings.http_port}"},
        )
        # proxy_headers off: uvicorn would believe X-Forwarded-For from any loopback peer; the rate limits read it
        # only from LINLI_RATE_TRUSTED_PROXIES (ratelimit/http.py).
        http_config = uvicorn.Config(
            server.http,
            host=settings.host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
        )
        freeze_startup_objects()  # the app, the database's metadata and the catalog live till exit
        uvicorn.Server(http_config).run()
        return 0
    finally:
        server.grpc.stop()
        server.database.dispose()
