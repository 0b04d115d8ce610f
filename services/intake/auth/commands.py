"""`linli token issue`: prints a signed token (workers' for the console, residents' and services' for tests and ops).

Only argparse is imported at module level: `linli` registers this command on every run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

TOKEN_COMMANDS = ("token",)
SUBJECT_OPTION = {"worker": "worker_id", "resident": "resident_id", "service": "service"}


def add_token_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `token issue` on the `linli` command."""
    token = commands.add_parser("token", help="signed tokens (the key comes from LINLI_AUTH_SECRETS)")
    actions = token.add_subparsers(dest="token_action", required=True)
    issue = actions.add_parser("issue", help="print a token; its expiry goes to stderr")
    issue.add_argument("--kind", choices=sorted(SUBJECT_OPTION), default="worker")
    issue.add_argument("--worker-id", help="workers: the id the tickets' history shows")
    issue.add_argument("--party", default="", help="workers: the party they act for, e.g. property_manager")
    issue.add_argument("--community", default="", help="workers: the community they serve; empty serves every one")
    issue.add_argument("--role", choices=("worker", "dispatcher", "admin"), default="worker", help="workers only")
    issue.add_argument("--resident-id", help="residents: the openid (tests and support; residents log in)")
    issue.add_argument("--service", help="services: the name the token stands for")
    issue.add_argument("--ttl-days", type=float, default=30.0, help="validity in days (default 30, at most 366)")


def run_token_command(args: argparse.Namespace) -> int:
    """Runs `linli token issue`; 0 with the token on stdout, 2 with the reason on stderr."""
    from linli.errors import LinliError
    from services.intake.auth.tokens import issue_token

    subject = getattr(args, SUBJECT_OPTION[args.kind]) or ""
    if not subject:
        option = SUBJECT_OPTION[args.kind].replace("_", "-")
        sys.stderr.write(f"linli token issue: --kind {args.kind} needs --{option}\n")
        return 2
    worker = args.kind == "worker"
    try:
        token, expires_at = issue_token(
            args.kind,
            subject,
            party=args.party if worker else "",
            community=args.community if worker else "",
            role=args.role if worker else None,
            ttl=timedelta(days=args.ttl_days),
        )
    except (LinliError, RuntimeError) as error:
        sys.stderr.write(f"linli token issue: {error}\n")
        return 2
    sys.stdout.write(token + "\n")
    sys.stderr.write(f"valid until {expires_at.isoformat()}\n")
    return 0
