"""The dev stack's supervisor: child processes restarted with exponential backoff when they die, stopped on a signal.

A dead child (a crash, `kill -9`) is logged with its exit code and started again after 1 s, then 2, 4, ... up to
30 s while it keeps dying; once it has stayed up 60 s the next death waits 1 s again. Only SIGINT or SIGTERM to the
supervisor stops the stack, every child with it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

STOP_TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Backoff:
    """How long a dead child waits before its restart: `initial` doubling to `maximum`; reset once stable."""

    initial: float = 1.0
    maximum: float = 30.0
    stable_after: float = 60.0

    def delay(self, consecutive_deaths: int) -> float:
        """The wait before the restart that follows the `consecutive_deaths`-th death in a row (1 for the first)."""
        return min(self.initial * 2.0 ** max(consecutive_deaths - 1, 0), self.maximum)


@dataclass(frozen=True)
class ChildSpec:
    """One role of the stack: its name, command line and environment."""

    name: str
    command: Sequence[str]
    env: dict[str, str]


@dataclass
class Child:
    """A supervised child: its current process (None while it waits for a restart) and its restart state."""

    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    consecutive_deaths: int = 0
    restart_at: float | None = None
    restarts: int = 0

    @property
    def name(self) -> str:
        return self.spec.name


def describe_exit(code: int) -> str:
    """`3`, or `-9 (SIGKILL)` for a child a signal ended."""
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


def _stderr_line(message: str) -> None:
    sys.stderr.write(f"linli: {time.strftime('%H:%M:%S')} {message}\n")
    sys.stderr.flush()


@dataclass
class Supervisor:
    """Starts the children, restarts the dead ones after their backoff, and stops them all in order."""

    specs: Sequence[ChildSpec]
    backoff: Backoff = field(default_factory=Backoff)
    clock: Callable[[], float] = time.monotonic
    log: Callable[[str], None] = _stderr_line
    children: list[Child] = field(default_factory=list)

    def start_all(self) -> None:
        """Starts every child, in the order given."""
        self.children = [Child(spec) for spec in self.specs]
        for child in self.children:
            self._launch(child)

    def _launch(self, child: Child) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C reaches only the supervisor, which then stops the roles in order.
        process = subprocess.Popen(list(child.spec.command), env=child.spec.env, start_new_session=True)  # noqa: S603 - our own fixed commands
        child.process, child.started_at, child.restart_at = process, self.clock(), None
        return process

    def poll(self) -> None:
        """Notices children that died (scheduling their restart) and restarts those whose wait is over."""
        now = self.clock()
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                self._schedule_restart(child, child.process.returncode, now)
            if child.restart_at is not None and now >= child.restart_at:
                process = self._launch(child)
                child.restarts += 1
                self.log(f"{child.name} restarted (pid {process.pid}, restart {child.restarts})")

    def _schedule_restart(self, child: Child, code: int, now: float) -> None:
        uptime = now - child.started_at
        # A child that stayed up long enough starts the backoff over: it is not crash-looping.
        child.consecutive_deaths = 1 if uptime >= self.backoff.stable_after else child.consecutive_deaths + 1
        delay = self.backoff.delay(child.consecutive_deaths)
        pid = child.process.pid if child.process is not None else "?"
        self.log(
            f"{child.name} (pid {pid}) exited with {describe_exit(code)} after {uptime:.1f} s; "
            f"restarting it in {delay:g} s"
        )
        child.process = None
        child.restart_at = now + delay

    def alive(self) -> list[Child]:
        """The children whose process is running now."""
        return [child for child in self.children if child.process is not None and child.process.poll() is None]

    def stop_all(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM to each child in order, waiting for it (SIGKILL after `timeout`); pending restarts are dropped."""
        for child in self.children:
            child.restart_at = None
            process = child.process
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def supervise(supervisor: Supervisor, *, tick: Callable[[], bool], interval: float = POLL_SECONDS) -> int:
    """Runs the children until SIGINT or SIGTERM (returns 0) or until `tick` returns False (returns 1).

    `tick` runs every `interval` seconds after the children were polled (the dev stack announces itself there).
    Every child is stopped before this returns.
    """
    stop_requested = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor.start_all()
    try:
        while not stop_requested:
            supervisor.poll()
            if not tick():
                return 1
            time.sleep(interval)
        return 0
    finally:
        supervisor.stop_all()
