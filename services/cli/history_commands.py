"""`linli history import` and `linli history upsert`: a deployment's complaint history as labels and precedents.

Only argparse and the standard library at module level: `linli` registers these on every run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from linli.errors import LinliError

HISTORY_COMMAND = "history"
DEFAULT_COMMUNITY = "12345热线"
EXIT_BAD_INPUT = 2

IMPORT_DESCRIPTION = """\
Reads exports of a 12345 hotline or message board (.jsonl, .csv in UTF-8 or GB18030, .xlsx) with the columns
留言主题/title, 留言详情/text, 答复意见/reply, 留言时间/time, 答复时间/reply_time (and 留言编号/id), scrubs
personal data, drops replies that only acknowledge or forward the message, and infers from each reply the party
that acted (property_manager, owners_committee, street_office) with a confidence. A message whose party is less
sure than --min-confidence keeps an empty label. Writes one JSON line per message: id, title, text, reply, label,
label_confidence, time, reply_time. Progress goes to stderr; the last stdout line is the summary as JSON.
"""


def _progress(line: str) -> None:
    sys.stderr.write(f"[history] {line}\n")
    sys.stderr.flush()


def add_history_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `history import` and `history upsert` on the `linli` parser."""
    history = commands.add_parser(HISTORY_COMMAND, help="import a history of complaints and official replies")
    actions = history.add_subparsers(dest="history_command", required=True)
    importer = actions.add_parser(
        "import",
        help="scrub a history export and infer from each reply who acted",
        description=IMPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("files", type=Path, nargs="+", metavar="FILE", help=".jsonl, .csv or .xlsx export")
    importer.add_argument("--out", type=Path, required=True, help="HISTORY.jsonl to write")
    importer.add_argument(
        "--min-confidence",
        type=float,
        help="label only messages at least this sure (default LINLI_HISTORY_MIN_CONFIDENCE, 0.8)",
    )
    upsert = actions.add_parser(
        "upsert",
        help="put the labelled messages of a HISTORY.jsonl into a running retrieval server as resolved cases "
        "(sends LINLI_AUTH_ADMIN_TOKEN or a service token signed with LINLI_AUTH_SECRETS)",
    )
    upsert.add_argument("history", type=Path, metavar="HISTORY.jsonl")
    upsert.add_argument("--target", required=True, help="host:port of the retrieval server, e.g. 127.0.0.1:50052")
    upsert.add_argument("--community", default=DEFAULT_COMMUNITY, help=f"community of the cases ({DEFAULT_COMMUNITY})")
    upsert.add_argument("--timeout", type=float, default=60.0, help="deadline of each call in seconds (default 60)")


def _run_import(args: argparse.Namespace) -> int:
    from services.routing.history.importing import import_history, write_jsonl
    from services.routing.history.settings import HistorySettings

    threshold = args.min_confidence if args.min_confidence is not None else HistorySettings().min_confidence
    if not 0.0 <= threshold <= 1.0:
        sys.stderr.write("linli history import: --min-confidence must be between 0 and 1\n")
        return EXIT_BAD_INPUT
    lines, summary = import_history(args.files, min_confidence=threshold, progress=_progress)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        write_jsonl(lines, out)
    partial.replace(args.out)
    counts = summary.to_json()
    _progress(
        f"read {counts['read']}, labelled {counts['labelled']} {counts['labels']}, left unlabelled "
        f"{counts['unlabelled']}, dropped {counts['dropped']} {counts['dropped_by_reason']} in {counts['seconds']} s; "
        f"wrote {args.out}"
    )
    sys.stdout.write(json.dumps(counts, ensure_ascii=False) + "\n")
    return 0


def _run_upsert(args: argparse.Namespace) -> int:
    from linli.clients.retrieval import RetrievalClient
    from linli.grpc_tls import open_channel
    from linli.settings import GrpcTlsSettings
    from services.cli.admin_commands import AdminSetupError, admin_credentials
    from services.routing.history.importing import read_imported
    from services.routing.history.upsert import upsert_history

    lines = read_imported(args.history)
    try:
        metadata = admin_credentials().metadata
    except AdminSetupError as error:
        sys.stderr.write(f"linli history upsert: {error.message}\n")
        return EXIT_BAD_INPUT
    # A command is a main(): it reads the TLS settings of its environment here, once.
    with open_channel(args.target, GrpcTlsSettings()) as channel:
        client = RetrievalClient(channel, timeout_seconds=args.timeout, credentials=lambda: metadata)
        upserted, skipped = upsert_history(lines, client, community=args.community, progress=_progress)
    _progress(f"{upserted} resolved cases upserted; {skipped} unlabelled messages left out (a case needs a party)")
    sys.stdout.write(json.dumps({"upserted": upserted, "unlabelled_left_out": skipped}) + "\n")
    return 0


def run_history_command(args: argparse.Namespace) -> int:
    """Runs `history import` or `history upsert`; bad input is one clear line on stderr and exit 2."""
    try:
        return _run_import(args) if args.history_command == "import" else _run_upsert(args)
    except LinliError as error:
        sys.stderr.write(f"linli history {args.history_command}: {error.message}\n")
        return EXIT_BAD_INPUT
