"""CPU of the worker's triage per ticket, in process: `triage_ticket` over PostgreSQL with N open tickets waiting.

Run `python -m bench.triage_cpu --open 0 1000 5000`. Routing and retrieval are fakes answering at once (a canned
decision, a random unit vector per text), so what is measured is the worker's own work: reading the ticket, the
duplicate search, recording the decision. The open tickets are routed tickets of the triaged tickets' community,
inside the duplicate window, with random vectors of the same model: every one a candidate, none similar enough to
merge, so every triage scores them all. Each ticket is then triaged again, as a redelivered message would be.

`--code DIR` imports the services from another checkout (e.g. a `git worktree` of the base commit), so that old and
new code run one right after the other on the same machine: `--compare DIR` does that, alternating, for `--rounds`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

DIMENSION = 512
MODEL = "bench-model"
COMMUNITY = "恒康居民区"


@dataclass(frozen=True)
class FakeEmbedded:
    """What RetrievalClient.embed returns: rows of vectors and the model."""

    vectors: np.ndarray
    model: str


class FakeRetrieval:
    """Embeds every text as a fixed random unit vector (the same text, the same vector)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed(self, texts: list[str]) -> FakeEmbedded:
        return FakeEmbedded(np.stack([self.vectors[text] for text in texts]), MODEL)


@dataclass(frozen=True)
class FakeRouted:
    """What RoutingClient.route returns: the decision and the text's vector routing made."""

    decision: object
    embedding: FakeEmbedded


class FakeRouting:
    """Routes everything to the property manager, sending back the text's vector as retrieval would embed it."""

    def __init__(self, retrieval: FakeRetrieval) -> None:
        self.retrieval = retrieval

    def route(self, *, text: str, **given: object) -> object:
        from linli.v1 import routing_pb2

        decision = routing_pb2.RoutingDecision(
            party="property_manager", confidence=0.9, rationale=routing_pb2.Rationale(summary="相似案例投票")
        )
        if "embedding" in given:  # code from before routing sent the vector back (`--code` of an older checkout)
            return decision
        return FakeRouted(decision, self.retrieval.embed([text]))


def _unit(rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _seed(database: object, count: int, *, status: str, rng: np.random.Generator, now: datetime) -> list[str]:
    from services.intake.tickets.models import Ticket, TicketEvent

    ids = []
    with database.unit_of_work() as session:  # type: ignore[attr-defined]
        for number in range(count):
            at = now - timedelta(minutes=1 + number % 600)
            ticket = Ticket(
                id=uuid.uuid4().hex,
                text=f"{number} 号楼 电梯坏了 {uuid.uuid4().hex[:6]}" if status != "received" else f"新投诉 {number}",
                community=COMMUNITY,
                resident_id=f"r-{number}",
                status=status,
                created_at=at,
                updated_at=at,
                party="property_manager" if status != "received" else "",
                embedding=_unit(rng).astype("<f4").tobytes() if status != "received" else None,
                embedding_model=MODEL if status != "received" else "",
            )
            ticket.events.append(TicketEvent(kind="received", actor="resident", note="", at=at))
            session.add(ticket)
            ids.append(ticket.id)
    return ids


def measure(url: str, open_tickets: int, triaged: int) -> dict[str, float]:
    """CPU ms per triaged ticket (median of the tickets) and the outcomes, over a database with `open_tickets`."""
    from services.intake.database import Database
    from services.intake.tickets.context import FlowContext
    from services.intake.triage.flows import TriageFlows
    from services.intake.worker.tasks import TaskDeps, triage_ticket
    from tests.unit.intake.fakes import RecordingNotifier, RecordingTaskQueue

    rng = np.random.default_rng(7)
    database = Database(url, pool_size=2)
    database.upgrade_schema()
    now = datetime.now(UTC)
    _seed(database, open_tickets, status="routed", rng=rng, now=now)
    new = _seed(database, triaged, status="received", rng=rng, now=now)
    vectors = {f"新投诉 {number}": _unit(rng) for number in range(triaged)}
    context = FlowContext(database, RecordingTaskQueue(), notifier=RecordingNotifier())
    flows = TriageFlows(context)
    retrieval = FakeRetrieval(vectors)
    deps = TaskDeps(triage=flows, learning=None, sweeps=None, routing=FakeRouting(retrieval), retrieval=retrieval)  # type: ignore[arg-type]
    for warm in new[:5]:
        triage_ticket(warm, deps)
    cpu, outcomes = [], []
    for ticket_id in new[5:]:
        start = time.process_time()
        outcomes.append(triage_ticket(ticket_id, deps).value)
        cpu.append((time.process_time() - start) * 1000)
        triage_ticket(ticket_id, deps)  # a redelivery: does nothing
    database.engine.dispose()
    return {"cpu_ms": statistics.median(cpu), "mean_ms": statistics.mean(cpu), "merged": outcomes.count("merged")}


def _child(args: argparse.Namespace) -> None:
    from bench.reliability.stack import fresh_database

    with fresh_database("postgres") as url:
        print(json.dumps(measure(url, args.open[0], args.triaged)))


def _run(code: Path, open_tickets: int, args: argparse.Namespace) -> dict[str, float]:
    here = Path(__file__).resolve().parent.parent
    environment = dict(os.environ, PYTHONPATH=f"{code}:{here}")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--open", str(open_tickets)]
    command += ["--triaged", str(args.triaged)]
    output = subprocess.run(command, env=environment, check=True, capture_output=True, text=True).stdout  # noqa: S603 - our own script
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, nargs="+", default=[0, 1000, 5000])
    parser.add_argument("--triaged", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another checkout to run alternately with this one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    here = Path(__file__).resolve().parent.parent
    codes = {"new": here} | ({"old": args.compare.resolve()} if args.compare else {})
    for open_tickets in args.open:
        results: dict[str, list[float]] = {name: [] for name in codes}
        for _ in range(args.rounds):
            for name, code in codes.items():
                results[name].append(_run(code, open_tickets, args)["cpu_ms"])
        row = ", ".join(f"{name} {statistics.median(values):.2f} ms ({values})" for name, values in results.items())
        print(f"open tickets {open_tickets:>5}: {row}", flush=True)


if __name__ == "__main__":
    main()
