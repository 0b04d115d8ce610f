"""The README's run command: `linli dev` starts everything on embedded defaults and Ctrl-C leaves no process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

MARK = "LINLI_DEVSTACK_TEST_MARK"


def processes_with(mark: str) -> list[int]:
    """Pids of live processes whose environment carries `mark` (children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"{MARK}={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().split(") ", 1)[1][0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def worker_of(mark: str) -> int:
    """Pid of the stack's Celery worker (`linli worker`, one process: its pool is threads)."""
    for pid in processes_with(mark):
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if arguments[-3:-1] == [b"services.cli", b"worker"]:
            return pid
    raise AssertionError("the stack runs no worker")


def submit_and_wait(base: str, resident: dict[str, str], text: str, seconds: float) -> dict[str, object]:
    """Submits a complaint and returns the ticket once triage decided it."""
    reply = httpx.post(f"{base}/v1/tickets", json={"text": text, "community": "西渚社区"}, headers=resident, timeout=10)
    assert reply.status_code == 201
    ticket_id = reply.json()["id"]
    ticket: dict[str, object] = {}

    def triaged() -> bool:
        nonlocal ticket
        ticket = httpx.get(f"{base}/v1/tickets/{ticket_id}", headers=resident, timeout=5).json()
        return ticket["status"] != "received"

    wait_until(triaged, seconds=seconds, what=f"triage within {seconds} s of submitting")
    return ticket


def test_dev_stack_routes_a_complaint_and_stops_cleanly(tmp_path: Path, corpus_slice: Path) -> None:
    ports = {name: free_port() for name in ("http", "intake", "retrieval", "routing")}
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        {
            MARK: mark,
            "LINLI_INTAKE_HTTP_PORT": str(ports["http"]),
            "LINLI_INTAKE_GRPC_PORT": str(ports["intake"]),
            "LINLI_INTAKE_ROUTING_TARGET": f"127.0.0.1:{ports['routing']}",
            "LINLI_INTAKE_RETRIEVAL_TARGET": f"127.0.0.1:{ports['retrieval']}",
            "LINLI_ROUTING_PORT": str(ports["routing"]),
            "LINLI_ROUTING_RETRIEVAL_TARGET": f"127.0.0.1:{ports['retrieval']}",
            "LINLI_RETRIEVAL_PORT": str(ports["retrieval"]),
            # A slice of the packaged corpus: the full one is the default, but embedding it twice (index, model)
            # would spend minutes of this test on what other tests already cover.
            "LINLI_RETRIEVAL_SEED_CORPUS": str(corpus_slice),
            "LINLI_ROUTING_TRAIN_CORPUS": str(corpus_slice),
        }
    )
    stack = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev"],
        cwd=tmp_path,  # embedded state lands in ./var, here
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stack.log").open("wb"),
        text=True,
    )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(iter(stack.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        wait_until(lambda: any("linli is up" in line for line in printed), seconds=180, what="the stack to be up")
        assert any("curl -s -X POST" in line for line in printed)
        base = f"http://127.0.0.1:{ports['http']}"
        # The stack made its own token key and lets residents log in with the development verifier.
        session = httpx.post(f"{base}/v1/auth/wechat", json={"code": "dev:dev-resident"}, timeout=10).json()
        assert session["resident_id"] == "dev-resident"
        resident = {"Authorization": f"Bearer {session['token']}"}
        console = next(line for line in printed if "dispatcher of" in line).split()[-1]
        me = httpx.get(f"{base}/v1/workers/me", headers={"Authorization": f"Bearer {console}"}, timeout=10).json()
        assert (me["role"], me["community"]) == ("dispatcher", "恒康居民区")
        submitted = time.monotonic()
        ticket = submit_and_wait(base, resident, "电梯又坏了,停在5楼不动,里面好像还有人,快来看看", 10)
        assert time.monotonic() - submitted <= 10
        assert ticket["status"] == "routed"
        assert ticket["party"] == "property_manager"
        assert isinstance(ticket["confidence"], float)
        assert ticket["confidence"] > 0
        routing = ticket["routing"]
        assert isinstance(routing, dict)
        assert routing["similar_resolved_count"] > 0
        assert (tmp_path / "var" / "linli.sqlite").exists()
        assert (tmp_path / "var" / "index" / "cases.sqlite").exists()

        # Issue #15, finding 10: `kill -9` of the worker used to stop every process. The supervisor restarts it.
        worker = worker_of(mark)
        os.kill(worker, signal.SIGKILL)
        log = tmp_path / "stack.log"
        wait_until(lambda: "worker restarted" in log.read_text(errors="replace"), seconds=15, what="a new worker")
        assert f"worker (pid {worker}) exited with -9 (SIGKILL)" in log.read_text(errors="replace")
        assert stack.poll() is None
        again = submit_and_wait(base, resident, "小区门口的垃圾桶满了好几天没人清理,味道很大", 60)
        assert again["status"] in ("routed", "needs_manual")
    finally:
        stack.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = stack.wait(timeout=60)
    assert code == 0
    wait_until(lambda: not processes_with(mark), seconds=10, what="every stack process to exit")
