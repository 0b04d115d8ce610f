"""`linli index snapshot|reload` and `linli routing reload|info`: a running server's index and model operations.

SnapshotIndex, ReloadIndex (retrieval) and ReloadModel (routing) pass linli/grpc_auth.py's interceptor only with an
admin worker's or a service's token: the commands send `LINLI_AUTH_ADMIN_TOKEN` when set, else a short-lived service
token they sign with `LINLI_AUTH_SECRETS`, and stop with exit 2 when neither is set. GetModelInfo is open and is
sent no token. Channels come from linli/grpc_tls.py, so `LINLI_GRPC_TLS_*` apply as to the services' own.

Only argparse, the standard library and linli.errors are imported at module level: `linli` registers these commands
on every run, and `linli health` must stay quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linli.errors import FailedPrecondition, LinliError

if TYPE_CHECKING:
    import grpc
    from google.protobuf.message import Message

    from linli.clients.retrieval import RetrievalClient
    from linli.clients.routing import RoutingClient
    from linli.grpc_auth import Metadata
    from linli.settings import AuthSettings, GrpcTlsSettings
    from linli.v1 import routing_pb2

ROUTING_COMMAND = "routing"
INDEX_RPC_ACTIONS = ("snapshot", "reload")
# Subject of the service tokens the commands sign: the servers' refusals and logs name it.
CLI_SERVICE_NAME = "linli-cli"
# ReloadIndex catches up with every case stored since the snapshot, and re-embeds any of another model.
DEFAULT_TIMEOUT_SECONDS = 120.0
EXIT_SERVER_ERROR = 1
EXIT_SETUP_ERROR = 2
NO_CREDENTIALS = (
    "no admin credentials: set LINLI_AUTH_ADMIN_TOKEN to an admin worker's token "
    "(`linli token issue --kind worker --role admin ...`), or LINLI_AUTH_SECRETS to the servers' token key"
)

# An RPC as a command runs it: given the channel, the call metadata and the deadline, its reply and a summary.
RpcRunner = Callable[["grpc.Channel", "Metadata", float], tuple["Message", str]]


class AdminSetupError(FailedPrecondition):
    """No call can be made from here: no credentials, or LINLI_AUTH_* settings that do not validate."""


@dataclass(frozen=True)
class AdminCredentials:
    """The metadata an admin RPC is sent, and where its token came from (named when the server refuses it)."""

    metadata: Metadata
    source: str


def admin_credentials(settings: AuthSettings | None = None) -> AdminCredentials:
    """`LINLI_AUTH_ADMIN_TOKEN`, else a service token signed with `LINLI_AUTH_SECRETS`.

    Raises:
        AdminSetupError: neither is set, or the LINLI_AUTH_* settings do not validate.
    """
    from pydantic import ValidationError

    from linli.grpc_auth import admin_metadata
    from linli.settings import AuthSettings

    try:
        settings = settings or AuthSettings()
    except ValidationError as error:  # named by variable and reason only: the input may be a secret
        problems = error.errors(include_input=False, include_url=False)
        raise AdminSetupError(
            "; ".join(_named_problem(problem["loc"], problem["msg"]) for problem in problems)
        ) from error
    if settings.admin_token is not None:
        return AdminCredentials(admin_metadata(CLI_SERVICE_NAME, settings), "the token of LINLI_AUTH_ADMIN_TOKEN")
    if settings.secrets is None:
        raise AdminSetupError(NO_CREDENTIALS)
    source = f"a service token of {CLI_SERVICE_NAME} signed with LINLI_AUTH_SECRETS"
    return AdminCredentials(admin_metadata(CLI_SERVICE_NAME, settings), source)


def _named_problem(location: tuple[int | str, ...], message: str) -> str:
    """`LINLI_AUTH_<FIELD>: message`; a problem of no single field (an unknown variable) is the message alone."""
    if not location:
        return message
    return f"LINLI_AUTH_{'_'.join(str(part) for part in location).upper()}: {message}"


def _retrieval(channel: grpc.Channel, metadata: Metadata, timeout: float) -> RetrievalClient:
    from linli.clients.retrieval import RetrievalClient

    return RetrievalClient(channel, timeout_seconds=timeout, credentials=lambda: metadata)


def _routing(channel: grpc.Channel, metadata: Metadata, timeout: float) -> RoutingClient:
    from linli.clients.routing import RoutingClient

    return RoutingClient(channel, timeout_seconds=timeout, credentials=lambda: metadata)


def _snapshot_index(channel: grpc.Channel, metadata: Metadata, timeout: float) -> tuple[Message, str]:
    reply = _retrieval(channel, metadata, timeout).snapshot_index()
    return reply, f"snapshot {reply.snapshot} written: {reply.case_count} cases"


def _reload_index(channel: grpc.Channel, metadata: Metadata, timeout: float) -> tuple[Message, str]:
    reply = _retrieval(channel, metadata, timeout).reload_index()
    source = f"snapshot {reply.snapshot}" if reply.snapshot else "a rebuild from the case store"
    return reply, f"index reloaded from {source}: {reply.case_count} cases searchable"


def describe_model(model: routing_pb2.ModelInfo) -> str:
    """A routing model's description as lines for people."""
    return "\n".join(
        [
            f"version: {model.version}",
            f"labels: {', '.join(model.labels)}",
            f"abstains below: {model.threshold:.3f}",
            f"signals: {', '.join(model.signals) or 'text only'}",
            f"embedding model: {model.embedding_model or 'none'}",
            f"estimated priors: {_priors(model.estimated_priors)}",
        ]
    )


def _priors(priors: Mapping[str, float]) -> str:
    """The label mix the model serves under, or that it keeps its training priors."""
    if not priors:
        return "training priors (no prior shift)"
    return ", ".join(f"{label} {share:.3f}" for label, share in sorted(priors.items()))


def _reload_model(channel: grpc.Channel, metadata: Metadata, timeout: float) -> tuple[Message, str]:
    reply = _routing(channel, metadata, timeout).reload_model()
    outcome = (
        "switched to the model directory's new model"
        if reply.changed
        else "unchanged: the model directory holds the model already in service"
    )
    return reply, f"{outcome}\n{describe_model(reply.model)}"


def _model_info(channel: grpc.Channel, metadata: Metadata, timeout: float) -> tuple[Message, str]:
    reply = _routing(channel, metadata, timeout).model_info()
    return reply, describe_model(reply.model)


# Every RPC of retrieval and routing needs an admin's or a service's token (reads too), so every command sends one.
COMMANDS: dict[tuple[str, str], RpcRunner] = {
    ("index", "snapshot"): _snapshot_index,
    ("index", "reload"): _reload_index,
    (ROUTING_COMMAND, "reload"): _reload_model,
    (ROUTING_COMMAND, "info"): _model_info,
}


def _add_call_options(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--target", required=True, help=f"host:port of the server, e.g. 127.0.0.1:{default_port}")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"deadline of the call in seconds (default {DEFAULT_TIMEOUT_SECONDS:.0f})",
    )
    parser.add_argument("--json", action="store_true", help="print the server's reply as one JSON object instead")


def add_index_rpc_commands(index_actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `index snapshot` and `index reload` beside `index build` and `index stats`."""
    credentials = "; sends LINLI_AUTH_ADMIN_TOKEN or a service token signed with LINLI_AUTH_SECRETS"
    snapshot = index_actions.add_parser(
        "snapshot", help="ask a running retrieval server to write a snapshot of its index now" + credentials
    )
    _add_call_options(snapshot, 50052)
    reload = index_actions.add_parser(
        "reload",
        help="ask a running retrieval server to load its newest snapshot, catch up with its case store and switch "
        "to it" + credentials,
    )
    _add_call_options(reload, 50052)


def add_routing_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `routing reload` and `routing info` on the `linli` command."""
    routing = commands.add_parser(ROUTING_COMMAND, help="the model of a running routing server")
    actions = routing.add_subparsers(dest="routing_command", required=True)
    reload = actions.add_parser(
        "reload",
        help="ask a routing server to switch to the model now in its model directory (LINLI_ROUTING_MODEL_DIR); "
        "a bad model is refused and the running one stays; sends LINLI_AUTH_ADMIN_TOKEN or a service token",
    )
    _add_call_options(reload, 50053)
    info = actions.add_parser("info", help="describe the model a routing server answers with (no token needed)")
    _add_call_options(info, 50053)


def is_admin_command(args: argparse.Namespace) -> bool:
    """Whether the parsed command line is one of this module's commands."""
    if args.command == ROUTING_COMMAND:
        return True
    return args.command == "index" and args.index_command in INDEX_RPC_ACTIONS


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _print_reply(reply: Message, summary: str, as_json: bool) -> None:
    if not as_json:
        sys.stdout.write(summary + "\n")
        return
    from google.protobuf import json_format

    sys.stdout.write(
        json_format.MessageToJson(
            reply, preserving_proto_field_name=True, indent=None, always_print_fields_with_no_presence=True
        )
        + "\n"
    )


def run_admin_command(
    args: argparse.Namespace, *, auth: AuthSettings | None = None, tls: GrpcTlsSettings | None = None
) -> int:
    """Runs one command against `args.target`.

    Returns:
        0 on success (summary or JSON on stdout); 1 when the server refused or failed the call, with its gRPC code
        and message on one line of stderr; 2 when this machine's settings keep the call from being made.
    """
    from linli.grpc_tls import open_channel
    from linli.settings import GrpcTlsSettings

    if tls is None:  # the command's entry: the environment is read here, once
        tls = GrpcTlsSettings()
    action = args.routing_command if args.command == ROUTING_COMMAND else args.index_command
    name = f"linli {args.command} {action}"
    run_rpc = COMMANDS[(args.command, action)]
    try:
        credentials = admin_credentials(auth)
    except AdminSetupError as error:
        sys.stderr.write(f"{name}: {_one_line(str(error))}\n")
        return EXIT_SETUP_ERROR
    try:
        with open_channel(args.target, tls) as channel:
            reply, summary = run_rpc(channel, credentials.metadata, args.timeout)
    except LinliError as error:  # the client interceptor's mapping of the server's status (linli/clients)
        code = (error.remote_code or error.grpc_code).name
        details = _one_line(error.remote_details or error.message)
        refused = code in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        sent = f" (sent {credentials.source})" if refused else ""
        sys.stderr.write(f"{name} ({args.target}): {code}: {details}{sent}\n")
        return EXIT_SERVER_ERROR
    except (OSError, ValueError) as error:  # unreadable PEM files, LINLI_GRPC_TLS_* that do not validate
        sys.stderr.write(f"{name}: {_one_line(str(error))}\n")
        return EXIT_SETUP_ERROR
    _print_reply(reply, summary, args.json)
    return 0
