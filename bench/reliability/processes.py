"""A supervisor of named child processes: start, SIGKILL, restart with the same command, memory and CPU from /proc.

Like Kubernetes, it can also restart on its own any role that exits without being told to (`watch`), counting
each such crash, so that a fault which takes a second process down is recovered from and reported, not hidden.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

STOP_SECONDS = 30.0
WATCH_SECONDS = 0.5


@dataclass(frozen=True)
class Role:
    """One process of the stack: its name, command line and environment (kept, so a restart is the same process)."""

    name: str
    command: tuple[str, ...]
    env: dict[str, str]


class Supervisor:
    """Runs roles as child processes logging to `<folder>/<name>.log`; stops them all on `stop`, last started first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._roles: dict[str, Role] = {}
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._killed: set[str] = set()  # killed on purpose: restarted by the caller, not by the watch
        self._down_since: dict[str, float] = {}
        self._lock = threading.RLock()
        self._watching = threading.Event()
        self._revive_after: float | None = None
        self.crashes: Counter[str] = Counter()

    def start(self, role: Role) -> None:
        """Starts `role` (again, under the same name, after a kill)."""
        with self._lock, (self.folder / f"{role.name}.log").open("ab") as log:
            self._roles[role.name] = role
            # A session of its own: a Ctrl-C at the harness reaches the harness, which then stops the roles in order.
            self._children[role.name] = subprocess.Popen(  # noqa: S603 - our own fixed commands
                role.command, env=role.env, stdout=log, stderr=log, start_new_session=True
            )

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown handler runs, as when a node dies or the OOM killer strikes."""
        with self._lock:
            self._killed.add(name)
            child = self._children[name]
        child.send_signal(signal.SIGKILL)
        child.wait()

    def restart(self, name: str) -> None:
        """Starts a killed role again with its original command and environment."""
        with self._lock:
            if self._children[name].poll() is None:
                raise RuntimeError(f"{name} is still running")
            self._killed.discard(name)
            self.start(self._roles[name])

    def watch(self, revive_after: float) -> None:
        """From now on, restarts every role that exits on its own once it has been down `revive_after` seconds."""
        self._revive_after = revive_after
        self._watching.set()
        threading.Thread(target=self._watch, name="supervisor-watch", daemon=True).start()

    def _watch(self) -> None:
        while self._watching.is_set():
            self._revive()
            time.sleep(WATCH_SECONDS)

    def _revive(self) -> None:
        now = time.monotonic()
        with self._lock:
            for name, child in self._children.items():
                if name in self._killed or child.poll() is None:
                    self._down_since.pop(name, None)
                    continue
                if now - self._down_since.setdefault(name, now) >= (self._revive_after or 0.0):
                    self.crashes[name] += 1
                    del self._down_since[name]
                    self.start(self._roles[name])

    def check_alive(self) -> None:
        """Raises naming the first role that exited on its own (unless `watch` restarts such roles)."""
        if self._watching.is_set():
            return
        with self._lock:
            for name, child in self._children.items():
                if name not in self._killed and child.poll() is not None:
                    raise RuntimeError(f"{name} exited with {child.returncode}; see {self.folder / name}.log")

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory of each running role, from /proc/<pid>/status (empty where /proc is missing)."""
        with self._lock:
            pids = {name: child.pid for name, child in self._children.items()}
        return {name: rss for name, pid in pids.items() if (rss := rss_of(pid)) is not None}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each running role used since it (re)started, from /proc/<pid>/stat."""
        ticks = os.sysconf("SC_CLK_TCK")
        with self._lock:
            pids = {name: child.pid for name, child in self._children.items()}
        used: dict[str, float] = {}
        for name, pid in pids.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
            except (OSError, IndexError):
                continue
            used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return used

    def stop(self) -> None:
        """Ends the watch, then SIGTERM to every role, last started first (clients before what they call)."""
        self._watching.clear()
        with self._lock:
            children = list(reversed(self._children.values()))
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def rss_of(pid: int) -> int | None:
    """Resident set size of a process in bytes, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
