"""`linli token issue`: prints a signed token (workers' for the console, residents' and services' for tests and ops);
`linli token revoke`, `unrevoke` and `revocations`: refuse one person's tokens without rotating the key, lift that,
list and prune the revocations.

Only argparse is imported at module level: `linli` registers this command on every run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from services.intake.auth.revocations import Revocations

TOKEN_COMMANDS = ("token",)
SUBJECT_OPTION = {"worker": "worker_id", "resident": "resident_id", "service": "service"}


def add_token_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `token issue`, `token revoke`, `token unrevoke` and `token revocations` on the `linli` command."""
    token = commands.add_parser("token", help="signed tokens (the key comes from LINLI_AUTH_SECRETS)")
    actions = token.add_subparsers(dest="token_action", required=True)
    issue = actions.add_parser("issue", help="print a token; its expiry goes to stderr")
    issue.add_argument("--kind", choices=sorted(SUBJECT_OPTION), default="worker")
    issue.add_argument("--worker-id", help="workers: the id the tickets' history shows")
    issue.add_argument("--party", default="", help="workers: the party they act for, e.g. property_manager")
    issue.add_argument("--community", default="", help="workers: the community they serve; empty serves every one")
    issue.add_argument(
        "--street", default="", help="workers: the street (code) whose every community they serve; not with --community"
    )
    issue.add_argument("--role", choices=("worker", "dispatcher", "admin"), default="worker", help="workers only")
    issue.add_argument("--resident-id", help="residents: the openid (tests and support; residents log in)")
    issue.add_argument("--service", help="services: the name the token stands for")
    issue.add_argument("--ttl-days", type=float, default=30.0, help="validity in days (default 30, at most 366)")
    revoke = actions.add_parser(
        "revoke",
        help="refuse every token of one subject issued until now, in the ticket database of "
        "LINLI_INTAKE_DATABASE_URL (intake's HTTP and gRPC; running intakes within "
        "LINLI_AUTH_REVOCATION_REFRESH_SECONDS)",
    )
    # Required, no default: revoking the right id under the wrong kind would silently revoke nobody.
    revoke.add_argument("--kind", choices=sorted(SUBJECT_OPTION), required=True)
    revoke.add_argument("--subject", required=True, help="the worker id, resident openid or service name")
    revoke.add_argument("--reason", default="", help="why, for whoever reads `linli token revocations` later")
    revoke.add_argument("--actor", help="who revokes (default: operator:<login name>)")
    unrevoke = actions.add_parser(
        "unrevoke",
        help="lift a subject's revocation: its tokens that have not expired work again (running intakes within "
        "LINLI_AUTH_REVOCATION_REFRESH_SECONDS)",
    )
    unrevoke.add_argument("--kind", choices=sorted(SUBJECT_OPTION), required=True)
    unrevoke.add_argument("--subject", required=True, help="the worker id, resident openid or service name")
    revocations = actions.add_parser("revocations", help="list the revoked subjects of the ticket database")
    revocations.add_argument(
        "--prune",
        action="store_true",
        help="instead, delete the revocations every token of which has expired (revoked over 366 days ago)",
    )


def run_token_command(args: argparse.Namespace) -> int:
    """Runs a `linli token` command; 0 on success, 2 with the reason on stderr for bad arguments, 1 when the ticket
    database fails or `unrevoke` names a subject that is not revoked."""
    action = args.token_action
    try:
        if action == "revoke":
            return _revoke(args)
        if action == "unrevoke":
            return _unrevoke(args)
        if action == "revocations":
            return _prune_revocations() if args.prune else _list_revocations()
    except _Failed as failure:
        return failure.exit_code
    return _issue(args)


def _issue(args: argparse.Namespace) -> int:
    from linli.errors import LinliError
    from linli.parties import unknown_party_message
    from linli.settings import AuthSettings
    from linli.tokens import TokenCodec
    from services.intake.auth.tokens import issue_token
    from services.intake.settings import IntakeSettings

    subject = getattr(args, SUBJECT_OPTION[args.kind]) or ""
    if not subject:
        option = SUBJECT_OPTION[args.kind].replace("_", "-")
        sys.stderr.write(f"linli token issue: --kind {args.kind} needs --{option}\n")
        return 2
    worker = args.kind == "worker"
    parties = IntakeSettings().parties
    if worker and args.party not in parties:  # a worker of a party nobody routes to would see no ticket
        sys.stderr.write(f"linli token issue: --party: {unknown_party_message(args.party, parties)}\n")
        return 2
    try:
        token, expires_at = issue_token(
            args.kind,
            subject,
            party=args.party if worker else "",
            community=args.community if worker else "",
            street=args.street if worker else "",
            role=args.role if worker else None,
            ttl=timedelta(days=args.ttl_days),
            codec=TokenCodec.from_settings(AuthSettings()),  # the command's entry: the environment is read here
        )
    except (LinliError, RuntimeError) as error:
        sys.stderr.write(f"linli token issue: {error}\n")
        return 2
    detail = {"kind": args.kind, "expires_at": expires_at.isoformat()}
    if worker:
        detail |= {"party": args.party, "community": args.community, "role": args.role}
    # Withheld when the log is configured but cannot record it: no token leaves unrecorded.
    if not _audited("token issue", "issued", args.kind, subject, detail, actor=operator_name()):
        return 1
    sys.stdout.write(token + "\n")
    sys.stderr.write(f"valid until {expires_at.isoformat()}\n")
    return 0


def _audited(command: str, what: str, kind: str, subject: str, detail: dict[str, str], *, actor: str) -> bool:
    """Records the command in the audit log (a resident by pseudonym); False, saying so, when the log is configured
    but cannot be written: the token is then withheld (issue) or reported unaudited (revoke)."""
    from linli.errors import LinliError
    from services.intake.audit.commands import cli_pseudonyms, record_operator_action
    from services.intake.audit.models import AuditAction

    action = {"issued": AuditAction.TOKEN_ISSUED, "revoked": AuditAction.TOKEN_REVOKED}.get(
        what, AuditAction.TOKEN_UNREVOKED
    )
    try:
        named = cli_pseudonyms().resident(subject) if kind == "resident" else f"{kind}:{subject}"
        record_operator_action(command, actor, action, named, detail)
    except (LinliError, RuntimeError) as error:
        sys.stderr.write(f"linli {command}: {what}, but NOT AUDITED: {error}\n")
        return False
    return True


_T = TypeVar("_T")


class _Failed(Exception):
    """A revocation command failed; its message is on stderr already."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def _on_revocations(command: str, action: Callable[[Revocations], _T]) -> _T:
    """Runs `action` on the revocations of LINLI_INTAKE_DATABASE_URL's ticket database (its schema brought up to
    date first, as intake does at start: the table may not exist yet).

    Raises:
        _Failed: exit code 1 when the subject is not revoked or the database fails, 2 for bad arguments.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from linli.errors import LinliError, NotFound
    from services.intake.auth.revocations import Revocations
    from services.intake.database import Database
    from services.intake.settings import IntakeSettings

    database = Database(IntakeSettings().database_url)
    try:
        database.upgrade_schema()
        return action(Revocations(database))
    except NotFound as error:
        sys.stderr.write(f"linli token {command}: {error}; `linli token revocations` lists the revoked subjects\n")
        raise _Failed(1) from error
    except LinliError as error:
        sys.stderr.write(f"linli token {command}: {error}\n")
        raise _Failed(2) from error
    except SQLAlchemyError as error:
        sys.stderr.write(f"linli token {command}: the ticket database failed: {error}\n")
        raise _Failed(1) from error
    finally:
        database.dispose()


def _revoke(args: argparse.Namespace) -> int:
    actor = args.actor or operator_name()
    revocation = _on_revocations(
        "revoke", lambda r: r.revoke(args.kind, args.subject, reason=args.reason, actor=actor, now=datetime.now(UTC))
    )
    sys.stdout.write(
        f"revoked {revocation.kind} {revocation.subject}: its tokens issued at or before "
        f"{revocation.revoked_before.isoformat()} are refused\n"
    )
    # The revocation stands either way: refusing tokens is never undone for want of a log line.
    audited = _audited("token revoke", "revoked", args.kind, args.subject, {"kind": args.kind}, actor=actor)
    return 0 if audited else 1


def _unrevoke(args: argparse.Namespace) -> int:
    lifted = _on_revocations("unrevoke", lambda r: r.unrevoke(args.kind, args.subject))
    sys.stdout.write(
        f"unrevoked {lifted.kind} {lifted.subject}: its tokens issued at or before "
        f"{lifted.revoked_before.isoformat()} are accepted again until they expire\n"
    )
    actor = operator_name()
    audited = _audited("token unrevoke", "unrevoked", args.kind, args.subject, {"kind": args.kind}, actor=actor)
    return 0 if audited else 1


def _prune_revocations() -> int:
    pruned = _on_revocations("revocations", lambda r: r.prune(now=datetime.now(UTC)))
    sys.stdout.write(f"pruned {pruned} revocation{'' if pruned == 1 else 's'} whose tokens have all expired\n")
    return 0


def _list_revocations() -> int:
    revocations = _on_revocations("revocations", lambda r: r.current())
    if not revocations:
        sys.stdout.write("no revoked subjects\n")
        return 0
    rows = [("kind", "subject", "revoked_before", "actor", "reason")]
    rows += [
        (r.kind.value, r.subject, r.revoked_before.isoformat(), r.actor, " ".join(r.reason.split()))
        for r in revocations
    ]
    # Every column but the last, the free-text reason, is padded to its widest cell.
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for *aligned, reason in rows:
        cells = [cell.ljust(width) for cell, width in zip(aligned, widths, strict=True)]
        sys.stdout.write("  ".join([*cells, reason]).rstrip() + "\n")
    return 0


def operator_name() -> str:
    """`operator:<login name>`: who ran an admin command, for the records it writes."""
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in some containers
        return "operator"
