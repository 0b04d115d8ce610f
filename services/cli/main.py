"""The `linli` command (`python -m services.cli`): serve a role, run the whole stack, check health, show settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import grpc

from linli.grpc_health import check_health
from linli.settings import GrpcTlsSettings
from services.cli.admin_commands import (
    add_index_rpc_commands,
    add_routing_commands,
    is_admin_command,
    run_admin_command,
)
from services.cli.history_commands import HISTORY_COMMAND, add_history_commands, run_history_command
from services.cli.settings_table import documented_settings_table
from services.intake.admin import INTAKE_COMMANDS, add_intake_commands, run_intake_command
from services.intake.audit.commands import AUDIT_COMMANDS, add_audit_commands, run_audit_command
from services.intake.auth.commands import TOKEN_COMMANDS, add_token_commands, run_token_command
from services.intake.organisation.commands import ORG_COMMANDS, add_org_commands, run_org_command
from services.intake.residents.commands import RESIDENT_COMMANDS, add_resident_commands, run_resident_command
from services.retrieval.index_admin import add_index_commands, run_index_command
from services.routing.learning.commands import LEARNING_COMMANDS, add_learning_commands, run_learning_command

ROLES = ("intake", "retrieval", "routing")
SETTINGS_START = "<!-- settings:start"
SETTINGS_END = "<!-- settings:end -->"


def _serve(role: str) -> int:
    # Imported here so that `linli health` or `linli settings` never load torch.
    entry: Callable[[], int]
    if role == "intake":
        from services.intake.server import main as entry
    elif role == "retrieval":
        from services.retrieval.server import main as entry
    else:
        from services.routing.server import main as entry
    return entry()


def _worker() -> None:
    from services.intake.worker.main import main as entry

    entry()


def _dev() -> int:
    from services.cli.devstack import run_stack

    return run_stack()


def _health(target: str, service: str) -> int:
    try:
        status = check_health(target, service, tls=GrpcTlsSettings())
    except grpc.RpcError as error:
        sys.stdout.write(f"{target}: {error.code().name if isinstance(error, grpc.Call) else error}\n")
        return 2
    sys.stdout.write(f"{target} {service or '(server)'}: {status}\n")
    return 0 if status == "SERVING" else 1


def _settings(readme: Path | None) -> int:
    table = documented_settings_table()
    if readme is None:
        sys.stdout.write(table + "\n")
        return 0
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(SETTINGS_START), text.index(SETTINGS_END)
    head = text[: text.index("\n", start) + 1]
    readme.write_text(head + table + "\n" + text[end:], encoding="utf-8")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `linli`."""
    parser = argparse.ArgumentParser(prog="linli", description="linli (邻里): the resident helpdesk")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve one role until SIGTERM/SIGINT")
    serve.add_argument("role", choices=ROLES)
    commands.add_parser("worker", help="run the Celery triage worker")
    commands.add_parser("dev", help="run the whole stack on embedded defaults; Ctrl-C stops it")
    health = commands.add_parser("health", help="ask a gRPC server's grpc.health.v1 status")
    health.add_argument("target", help="host:port")
    health.add_argument("--service", default="", help="full service name; empty asks for the whole server")
    settings = commands.add_parser("settings", help="print the table of LINLI_* settings")
    settings.add_argument("--readme", type=Path, help="rewrite the table between the markers in this file instead")
    add_index_rpc_commands(add_index_commands(commands))
    add_intake_commands(commands)
    add_learning_commands(commands)
    add_history_commands(commands)
    add_routing_commands(commands)
    add_token_commands(commands)
    add_org_commands(commands)
    add_resident_commands(commands)
    add_audit_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `linli` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args.role)
    if args.command == "worker":
        _worker()
        return 0
    if args.command == "dev":
        return _dev()
    if args.command == "health":
        return _health(args.target, args.service)
    if is_admin_command(args):  # before `index`: its snapshot and reload call a running server
        return run_admin_command(args)
    if args.command == "index":
        from services.retrieval.settings import RetrievalSettings

        return run_index_command(args, settings=RetrievalSettings())
    if args.command in TOKEN_COMMANDS:
        return run_token_command(args)
    if args.command in ORG_COMMANDS:
        return run_org_command(args)
    if args.command in RESIDENT_COMMANDS:
        return run_resident_command(args)
    if args.command in AUDIT_COMMANDS:
        return run_audit_command(args)
    if args.command in INTAKE_COMMANDS:
        return run_intake_command(args)
    if args.command == HISTORY_COMMAND:
        return run_history_command(args)
    if args.command in LEARNING_COMMANDS:
        from services.retrieval.settings import RetrievalSettings

        # Training with `--embeddings` loads retrieval's model as LINLI_RETRIEVAL_* configures it.
        return run_learning_command(args, RetrievalSettings().embedder_config())
    return _settings(args.readme)
