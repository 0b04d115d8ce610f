"""`linli dev`: the whole stack as child processes on embedded defaults, stopped cleanly on Ctrl-C.

A child that dies (a crash, `kill -9`) is restarted with exponential backoff by the supervisor
(services/cli/supervisor.py); only Ctrl-C (SIGINT, or SIGTERM) stops the stack.

Without `LINLI_AUTH_SECRETS` it makes a random key for this run and hands it to every child, and lets residents log
in with the development verifier (`dev:<openid>`, loopback only); at start it prints a worker's and a dispatcher's
console token signed with that key. Workers sign in to the console with the development WeCom verifier (any
registered WeCom userid, loopback only): into an empty workers table it seeds a demo street and demo workers
(services/intake/organisation/demo.py) and prints their userids.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from linli.grpc_health import check_health
from linli.parties import display_name
from linli.settings import DEFAULT_STATE_DIR, GrpcTlsSettings
from linli.tokens import Role, TokenCodec, TokenKind
from services.cli.supervisor import ChildSpec, Supervisor, supervise
from services.intake.auth.residents import is_loopback
from services.intake.database import Database
from services.intake.organisation.demo import seed_demo_organisation
from services.intake.organisation.flows import OrganisationFlows
from services.intake.organisation.repository import WorkerRecord
from services.intake.settings import IntakeSettings
from services.routing.settings import RoutingSettings

STARTUP_TIMEOUT_SECONDS = 180.0
EXAMPLE_COMMUNITY = "恒康居民区"
EXAMPLE_COMPLAINT = {
    "text": "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的,老人孩子都容易摔跤",
    "community": EXAMPLE_COMMUNITY,
    "building": "3号楼",
}
CONSOLE_TOKEN_TTL = timedelta(days=1)


def _child(name: str, args: list[str], env: dict[str, str]) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-m", "services.cli", *args], env)


def _intake_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:  # noqa: S310 - our own local URL
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _routing_ready(target: str, tls: GrpcTlsSettings) -> bool:
    try:
        return check_health(target, timeout=2, tls=tls) == "SERVING"
    except Exception:
        return False


def stack_environment(base: Mapping[str, str], *, intake_host: str) -> dict[str, str]:
    """The children's environment: `base` with the development defaults it does not set itself."""
    env = {**base, "HF_HUB_OFFLINE": "1"}
    env.setdefault("LINLI_LOG_FORMAT", "text")
    # One key per run unless the developer set one: tokens of an earlier run stop working, which is the point.
    env.setdefault("LINLI_AUTH_SECRETS", secrets.token_hex(32))
    env.setdefault("LINLI_AUTH_RESIDENT_VERIFIER", "dev")
    # SMS login codes are printed on this console (the H5 page's /h5/?login=sms form), never texted.
    env.setdefault("LINLI_SMS_PROVIDER", "dev")
    # Workers sign in as any registered WeCom userid; intake refuses that off loopback, so it is not offered there.
    if is_loopback(intake_host):
        env.setdefault("LINLI_WECOM_VERIFIER", "dev")
    return env


def prepare_demo_organisation(settings: IntakeSettings) -> list[WorkerRecord]:
    """Migrates the ticket database, seeds it as intake's start would, adds the demo organisation while no worker is
    registered, and returns the active workers who can sign in with WeCom (none, with a warning, when the database
    fails: intake will say why)."""
    database = Database(settings.database_url)
    try:
        database.upgrade_schema()
        organisation = OrganisationFlows(database)
        organisation.seed(settings.known_communities, {party: display_name(party) for party in settings.parties})
        # The demo parties serve the example's community: the printed example's ticket lands in their inbox.
        seed_demo_organisation(database, settings.known_communities, home=EXAMPLE_COMMUNITY)
        return [w for w in organisation.listing().workers if w.active and w.wecom_userid]
    except SQLAlchemyError as error:
        sys.stderr.write(f"linli: no demo workers seeded, the ticket database failed: {error}\n")
        return []
    finally:
        database.dispose()


def run_stack() -> int:
    """Starts retrieval, routing, intake, a worker and beat under the supervisor; prints URLs, the console's logins
    and an example once ready; returns 0 after Ctrl-C, 1 when the stack never became ready."""
    Path(DEFAULT_STATE_DIR).mkdir(parents=True, exist_ok=True)
    intake, routing, tls = IntakeSettings(), RoutingSettings(), GrpcTlsSettings()
    env = stack_environment(os.environ, intake_host=intake.host)
    codec = TokenCodec([env["LINLI_AUTH_SECRETS"].split(",")[0].strip().encode()])
    logins = prepare_demo_organisation(intake) if env.get("LINLI_WECOM_VERIFIER") == "dev" else []
    http_url = f"http://{intake.host}:{intake.http_port}"
    routing_target = f"{routing.host}:{routing.port}"
    # Stopped front first: no new tickets, then the worker finishes its tasks, then the services it calls.
    children = [
        _child("intake", ["serve", "intake"], env),
        _child("worker", ["worker"], env),
        # Beat re-queues tickets whose publish failed and escalates overdue ones up the ladder.
        _child("beat", ["beat"], env),
        _child("routing", ["serve", "routing"], env),
        _child("retrieval", ["serve", "retrieval"], env),
    ]
    started = time.monotonic()
    announced = False

    def tick() -> bool:
        nonlocal announced
        if not announced and _intake_ready(http_url) and _routing_ready(routing_target, tls):
            _announce(http_url, intake, routing, codec)
            sys.stdout.write(console_logins(http_url, logins))
            sys.stdout.flush()
            announced = True
        if not announced and time.monotonic() - started > STARTUP_TIMEOUT_SECONDS:
            sys.stderr.write("linli: the stack did not become ready in time; stopping\n")
            return False
        return True

    code = supervise(Supervisor(children), tick=tick)
    sys.stderr.write("linli: every process stopped\n")
    return code


def console_tokens(codec: TokenCodec) -> dict[str, str]:
    """A property manager's and a dispatcher's console token for the example community, valid one day."""
    consoles = {
        "worker": ("dev-pm", "property_manager", Role.WORKER),
        "dispatcher": ("dev-dispatcher", "street_office", Role.DISPATCHER),
    }
    return {
        name: codec.issue(
            TokenKind.WORKER, worker_id, ttl=CONSOLE_TOKEN_TTL, party=party, community=EXAMPLE_COMMUNITY, role=role
        )[0]
        for name, (worker_id, party, role) in consoles.items()
    }


def console_logins(http_url: str, workers: list[WorkerRecord]) -> str:
    """How to sign in to the console with the development WeCom verifier, one line per worker ('' for none)."""
    if not workers:
        return ""
    lines = [f"控制台: {http_url}/console/ 企业微信(开发) 用户 (输入 userid 后点「企业微信登录」):\n"]
    for worker in workers:
        scope = worker.community or (f"街道 {worker.street}" if worker.street else "全部社区")
        lines.append(
            f"  {worker.wecom_userid:<10} {worker.display_name or worker.worker_id}  "
            f"{display_name(worker.party)} · {scope} · {worker.role}\n"
        )
    return "".join(lines) + "\n"


def _announce(http_url: str, intake: IntakeSettings, routing: RoutingSettings, codec: TokenCodec) -> None:
    body = json.dumps(EXAMPLE_COMPLAINT, ensure_ascii=False)
    tokens = console_tokens(codec)
    sys.stdout.write(
        "\nlinli is up (Ctrl-C stops everything)\n"
        f"  HTTP API        {http_url}   (OpenAPI docs: {http_url}/docs)\n"
        f"  intake gRPC     {intake.host}:{intake.grpc_port}\n"
        f"  routing gRPC    {routing.host}:{routing.port}\n"
        f"  retrieval gRPC  {routing.retrieval_target}\n\n"
        f"Console tokens ({http_url}/console/, valid one day, this run only):\n"
        f"  property manager of {EXAMPLE_COMMUNITY}:  {tokens['worker']}\n"
        f"  dispatcher of {EXAMPLE_COMMUNITY}:        {tokens['dispatcher']}\n\n"
        "Try (residents log in with the development verifier: any `dev:<openid>`):\n"
        f"  R=$(curl -s -X POST {http_url}/v1/auth/wechat -H 'Content-Type: application/json' "
        """-d '{"code":"dev:demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')\n"""
        f"  curl -s -X POST {http_url}/v1/tickets -H \"Authorization: Bearer $R\" -H 'Content-Type: application/json' "
        "\\\n"
        f"       -d '{body}'\n"
        f'  curl -s {http_url}/v1/tickets/<id from the answer> -H "Authorization: Bearer $R"\n\n'
    )
    sys.stdout.flush()
