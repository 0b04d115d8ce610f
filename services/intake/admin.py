"""Intake's admin commands: `linli db upgrade`, `linli beat`, `linli corrections export`, `linli report transfers`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from services.intake.settings import IntakeSettings

if TYPE_CHECKING:  # the command line stays light: the ticket store is imported only when a command needs it
    from services.intake.database import Database
    from services.intake.tickets.learning import LearningFlows, TransferRate

INTAKE_COMMANDS = ("db", "beat", "corrections", "report")


class _NoQueue:
    """The admin commands read; anything that would queue work is a bug here."""

    def enqueue_triage(self, ticket_id: str) -> None:
        raise RuntimeError("admin commands do not queue triage")

    def enqueue_case_sync(self, ticket_id: str) -> None:
        raise RuntimeError("admin commands do not queue case syncs")


def add_intake_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds intake's subcommands to the `linli` parser's subparsers."""
    db = commands.add_parser("db", help="the ticket database")
    db_actions = db.add_subparsers(dest="db_action", required=True)
    db_actions.add_parser("upgrade", help="apply pending migrations (intake and workers also do at start)")
    commands.add_parser("beat", help="run Celery beat: re-queue stuck tickets and escalate overdue ones")
    corrections = commands.add_parser("corrections", help="routing corrections learned from transfers")
    corrections_actions = corrections.add_subparsers(dest="corrections_action", required=True)
    export = corrections_actions.add_parser("export", help='write {"text", "from", "to"} lines for training')
    export.add_argument("--out", type=Path, required=True, help="JSONL file to write")
    report = commands.add_parser("report", help="reports over the ticket store")
    report_actions = report.add_subparsers(dest="report_action", required=True)
    report_actions.add_parser("transfers", help="transfer rate by routed party and by catalog entry")


def run_intake_command(args: argparse.Namespace) -> int:
    """Runs one of INTAKE_COMMANDS; returns the exit code."""
    if args.command == "beat":
        from services.intake.worker.main import beat_main

        beat_main()
        return 0
    from services.intake.database import Database

    settings = IntakeSettings()
    database = Database(settings.database_url)
    try:
        if args.command == "db":
            sys.stdout.write(f"ticket database at revision {database.upgrade_schema()}\n")
            return 0
        learning = _learning(database, settings)
        if args.command == "corrections":
            return _export_corrections(learning.corrections(), args.out)
        by_party, by_entry = learning.transfer_rates()
        sys.stdout.write(_rate_table("party (router's choice)", by_party))
        sys.stdout.write("\n" + _rate_table("catalog entry", by_entry))
        return 0
    finally:
        database.dispose()


def _learning(database: Database, settings: IntakeSettings) -> LearningFlows:
    from services.intake.tickets.context import FlowContext, LifecyclePolicy
    from services.intake.tickets.learning import LearningFlows

    return LearningFlows(FlowContext(database, _NoQueue(), policy=LifecyclePolicy.from_settings(settings)))


def _export_corrections(lines: list[dict[str, str]], out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as file:
        for line in lines:
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.write(f"wrote {len(lines)} correction(s) to {out}\n")
    return 0


def _rate_table(title: str, rows: list[TransferRate]) -> str:
    width = max([len(title), *(len(row.key) for row in rows)])
    lines = [f"{title:<{width}}  {'routed':>7}  {'transferred':>11}  {'rate':>6}"]
    lines += [f"{row.key:<{width}}  {row.routed:>7}  {row.transferred:>11}  {row.rate:>6.1%}" for row in rows]
    total_routed = sum(row.routed for row in rows)
    total_moved = sum(row.transferred for row in rows)
    rate = total_moved / total_routed if total_routed else 0.0
    lines.append(f"{'all':<{width}}  {total_routed:>7}  {total_moved:>11}  {rate:>6.1%}")
    return "\n".join(lines) + "\n"
