"""`linli dev`: the whole stack as child processes on embedded defaults, stopped cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from linli.settings import DEFAULT_STATE_DIR, IntakeSettings, RoutingSettings

STARTUP_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 20.0
EXAMPLE_COMPLAINT = {
    "text": "3号楼楼道的灯坏了好几天了,晚上上下楼黑漆漆的,老人孩子都容易摔跤",
    "community": "恒康居民区",
    "building": "3号楼",
    "resident_id": "demo-resident",
}


@dataclass
class Child:
    """One role of the stack."""

    name: str
    process: subprocess.Popen[bytes]


def _start(name: str, args: list[str], env: dict[str, str]) -> Child:
    # A session of its own: Ctrl-C reaches only this supervisor, which then stops the roles in order.
    command = [sys.executable, "-m", "linli.cli", *args]
    process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603 - our own fixed command
    return Child(name, process)


def _intake_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:  # noqa: S310 - our own local URL
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _routing_ready(target: str) -> bool:
    from linli.cli import check_health

    try:
        return check_health(target, timeout=2) == "SERVING"
    except Exception:
        return False


def _stop(children: list[Child]) -> None:
    # Front first: no new tickets, then the worker finishes its tasks, then the services it calls.
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
    sys.stderr.write("linli: every process stopped\n")


def run_stack() -> int:
    """Starts retrieval, routing, intake, a worker and beat; prints URLs and an example; returns when stopped."""
    Path(DEFAULT_STATE_DIR).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.setdefault("LINLI_LOG_FORMAT", "text")
    intake, routing = IntakeSettings(), RoutingSettings()
    http_url = f"http://{intake.host}:{intake.http_port}"
    routing_target = f"{routing.host}:{routing.port}"
    children = [
        _start("intake", ["serve", "intake"], env),
        _start("worker", ["worker"], env),
        # Beat re-queues tickets whose publish failed and escalates overdue ones up the ladder.
        _start("beat", ["beat"], env),
        _start("routing", ["serve", "routing"], env),
        _start("retrieval", ["serve", "retrieval"], env),
    ]
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        started = time.monotonic()
        announced = False
        while not stop_requested:
            exited = [c for c in children if c.process.poll() is not None]
            if exited:
                sys.stderr.write(f"linli: {exited[0].name} exited with {exited[0].process.returncode}; stopping\n")
                return 1
            if not announced and _intake_ready(http_url) and _routing_ready(routing_target):
                _announce(http_url, intake, routing_target)
                announced = True
            if not announced and time.monotonic() - started > STARTUP_TIMEOUT_SECONDS:
                sys.stderr.write("linli: the stack did not become ready in time; stopping\n")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        _stop(children)


def _announce(http_url: str, intake: IntakeSettings, routing_target: str) -> None:
    body = json.dumps(EXAMPLE_COMPLAINT, ensure_ascii=False)
    sys.stdout.write(
        "\nlinli is up (Ctrl-C stops everything)\n"
        f"  HTTP API        {http_url}   (OpenAPI docs: {http_url}/docs)\n"
        f"  intake gRPC     {intake.host}:{intake.grpc_port}\n"
        f"  routing gRPC    {routing_target}\n"
        f"  retrieval gRPC  {RoutingSettings().retrieval_target}\n\n"
        "Try:\n"
        f"  curl -s -X POST {http_url}/v1/tickets -H 'Content-Type: application/json' \\\n"
        f"       -d '{body}'\n"
        f"  curl -s {http_url}/v1/tickets/<id from the answer>\n\n"
    )
    sys.stdout.flush()
