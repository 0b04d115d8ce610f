"""The dev stack's supervisor (issue #15, finding 10): a killed child is restarted with backoff, the others run on,
and only a signal to the supervisor stops them all. Children are cheap `python -c` sleepers, not the stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.supervisor import Backoff, ChildSpec, Supervisor
from tests.integration.conftest import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
FAILING = [sys.executable, "-c", "raise SystemExit(3)"]


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def spec(name: str, command: list[str]) -> ChildSpec:
    return ChildSpec(name, command, dict(os.environ))


@pytest.fixture
def supervised() -> Iterator[tuple[Supervisor, FakeClock, list[str]]]:
    """A supervisor of a sleeping `worker` and `intake` and an always-failing `beat`, on a fake clock."""
    clock, logged = FakeClock(), list[str]()
    supervisor = Supervisor(
        [spec("intake", SLEEPER), spec("worker", SLEEPER), spec("beat", FAILING)], clock=clock, log=logged.append
    )
    supervisor.start_all()
    yield supervisor, clock, logged
    supervisor.stop_all(timeout=5)


def child(supervisor: Supervisor, name: str) -> subprocess.Popen[bytes] | None:
    return next(c.process for c in supervisor.children if c.name == name)


def test_backoff_doubles_from_one_second_to_thirty() -> None:
    assert [Backoff().delay(deaths) for deaths in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_killed_child_is_restarted_after_a_second_and_the_others_run_on(
    supervised: tuple[Supervisor, FakeClock, list[str]],
) -> None:
    supervisor, clock, logged = supervised
    worker, intake = child(supervisor, "worker"), child(supervisor, "intake")
    assert worker is not None
    worker.kill()
    worker.wait()
    supervisor.poll()
    assert any(line.startswith(f"worker (pid {worker.pid}) exited with -9 (SIGKILL)") for line in logged), logged
    assert any(line.startswith("worker") and line.endswith("restarting it in 1 s") for line in logged)
    assert child(supervisor, "worker") is None  # waiting out its backoff
    clock.now += 0.9
    supervisor.poll()
    assert child(supervisor, "worker") is None
    clock.now += 0.1
    supervisor.poll()
    restarted = child(supervisor, "worker")
    assert restarted is not None
    assert restarted.pid != worker.pid
    assert restarted.poll() is None
    assert f"worker restarted (pid {restarted.pid}, restart 1)" in logged
    assert child(supervisor, "intake") is intake
    assert intake is not None
    assert intake.poll() is None


def restart_delays(supervisor: Supervisor, clock: FakeClock, logged: list[str], name: str, deaths: int) -> list[str]:
    """Lets `name` die `deaths` times, each restart as soon as its wait is over; the waits it was given."""
    for _ in range(deaths):
        process = child(supervisor, name)
        assert process is not None
        process.wait()
        supervisor.poll()
        wait = logged[-1].rsplit(" in ", 1)[1]
        clock.now += float(wait.removesuffix(" s"))
        supervisor.poll()
    return [line.rsplit(" in ", 1)[1] for line in logged if line.startswith(f"{name} (pid")]


def test_a_crash_looping_child_waits_longer_each_time_up_to_thirty_seconds(
    supervised: tuple[Supervisor, FakeClock, list[str]],
) -> None:
    supervisor, clock, logged = supervised
    delays = restart_delays(supervisor, clock, logged, "beat", 7)
    assert delays == ["1 s", "2 s", "4 s", "8 s", "16 s", "30 s", "30 s"]
    assert any(line.startswith("beat (pid") and "exited with 3 after" in line for line in logged)


def test_a_child_that_stayed_up_a_minute_starts_the_backoff_over(
    supervised: tuple[Supervisor, FakeClock, list[str]],
) -> None:
    supervisor, clock, logged = supervised
    for _ in range(3):  # three quick deaths: the next wait would be 8 s
        worker = child(supervisor, "worker")
        assert worker is not None
        worker.kill()
        worker.wait()
        supervisor.poll()
        clock.now += 30
        supervisor.poll()
    clock.now += 60  # up a minute since its last restart
    worker = child(supervisor, "worker")
    assert worker is not None
    worker.kill()
    worker.wait()
    supervisor.poll()
    waits = [line.rsplit(" in ", 1)[1] for line in logged if line.startswith("worker (pid")]
    assert waits == ["1 s", "2 s", "4 s", "1 s"]


def test_stop_all_stops_every_child_and_drops_pending_restarts(
    supervised: tuple[Supervisor, FakeClock, list[str]],
) -> None:
    supervisor, clock, _ = supervised
    processes = [c.process for c in supervisor.children if c.process is not None]
    supervisor.stop_all(timeout=5)
    assert all(process.poll() is not None for process in processes)
    clock.now += 100
    assert not supervisor.alive()


SUPERVISOR_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from services.cli.supervisor import Backoff, ChildSpec, Supervisor, supervise
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    specs = [ChildSpec(name, sleeper, dict(os.environ)) for name in ("intake", "worker")]
    supervisor = Supervisor(specs, backoff=Backoff(initial=0.2, maximum=1.0, stable_after=60.0))
    def tick():
        with open(sys.argv[1], "w") as pids:
            pids.write(" ".join(str(c.process.pid) for c in supervisor.children if c.process is not None))
        return True
    raise SystemExit(supervise(supervisor, tick=tick, interval=0.1))
    """
)


def pids_in(path: Path) -> list[int]:
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_kill_9_of_a_child_restarts_it_and_sigterm_to_the_supervisor_stops_everything(tmp_path: Path) -> None:
    pid_file, log = tmp_path / "pids", tmp_path / "supervisor.log"
    with log.open("wb") as output:
        supervisor = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR_SCRIPT, str(pid_file)], stdout=output, stderr=output
        )
    try:
        wait_until(lambda: len(pids_in(pid_file)) == 2, seconds=20, what="both children to start")
        intake, worker = pids_in(pid_file)
        os.kill(worker, signal.SIGKILL)
        wait_until(
            lambda: len(pids_in(pid_file)) == 2 and worker not in pids_in(pid_file), seconds=10, what="a restart"
        )
        assert supervisor.poll() is None  # one child's death does not stop the stack
        assert pids_in(pid_file)[0] == intake
        assert running(intake)
        children = pids_in(pid_file)
        time.sleep(0.3)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        for pid in pids_in(pid_file):  # only if the test failed midway: no sleeper outlives it
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    assert not [pid for pid in children if running(pid)]
    text = log.read_text()
    assert f"worker (pid {worker}) exited with -9 (SIGKILL)" in text
    assert "restarting it in 0.2 s" in text
    assert "worker restarted (pid" in text
