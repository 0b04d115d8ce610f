"""`linli audit list`: the audit log of the ticket database, newest first; and the operator commands' recording.

Only argparse is imported at module level: `linli` registers this command on every run.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.intake.audit.flows import Detail, Pseudonyms
    from services.intake.audit.models import AuditAction
    from services.intake.database import Database

AUDIT_COMMANDS = ("audit",)
DATABASE_VARIABLE = "LINLI_INTAKE_DATABASE_URL"


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `audit list` on the `linli` command."""
    audit = commands.add_parser("audit", help=f"the audit log of the ticket database ({DATABASE_VARIABLE})")
    actions = audit.add_subparsers(dest="audit_action", required=True)
    listing = actions.add_parser("list", help="audited actions, newest first, one per line")
    listing.add_argument(
        "--action", help="e.g. token_issued, login_sms, login_failed, export, personal_data_read, personal_data_refused"
    )
    listing.add_argument("--actor", default="", help="exactly, e.g. worker:w1 or operator:alice")
    listing.add_argument("--since", help="at or after this time (ISO 8601; no zone: UTC)")
    listing.add_argument("--until", help="before this time (ISO 8601; no zone: UTC)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many events (default 100)")


def run_audit_command(args: argparse.Namespace) -> int:
    """Runs `linli audit list`; 0 on success, 2 for bad arguments, 1 when the database fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from linli.errors import LinliError
    from services.intake.database import Database
    from services.intake.settings import IntakeSettings

    database = Database(IntakeSettings().database_url)
    try:
        database.upgrade_schema()
        _print_events(database, args)
    except (LinliError, ValueError) as error:
        sys.stderr.write(f"linli audit list: {error}\n")
        return 2
    except SQLAlchemyError as error:
        sys.stderr.write(f"linli audit list: the ticket database failed: {error}\n")
        return 1
    finally:
        database.dispose()
    return 0


def _print_events(database: Database, args: argparse.Namespace) -> None:
    from dataclasses import replace

    from linli.errors import InvalidArgument
    from services.intake.audit import repository
    from services.intake.audit.flows import parse_moment
    from services.intake.audit.models import AuditAction
    from services.intake.audit.repository import MAX_PAGE_SIZE, AuditQuery

    if not 0 < args.limit <= 10_000:
        raise InvalidArgument.for_field("limit", "must be 1-10000")
    known = [action.value for action in AuditAction]
    if args.action and args.action not in known:
        raise InvalidArgument.for_field("action", f"must be one of {', '.join(known)}")
    query = AuditQuery(
        action=AuditAction(args.action) if args.action else None,
        actor=args.actor,
        since=parse_moment(args.since, "since"),
        until=parse_moment(args.until, "until"),
        page_size=min(args.limit, MAX_PAGE_SIZE),
    )
    printed = 0
    with database.unit_of_work() as session:
        while printed < args.limit:
            events, token = repository.page(query, session=session)
            for event in events[: args.limit - printed]:
                sys.stdout.write(
                    "  ".join([event.at.isoformat(), event.action, event.actor, event.subject or "-", event.ip or "-"])
                    + f"  {event.detail}\n"
                )
                printed += 1
            if not token:
                break
            query = replace(query, page_token=token)
    if printed == 0:
        sys.stdout.write("no audited actions\n")


def record_operator_action(
    command: str, actor: str, action: AuditAction, subject: str = "", detail: Detail | None = None
) -> bool:
    """Records an operator's command in the audit log of LINLI_INTAKE_DATABASE_URL's database; True when recorded.

    False, with a warning on stderr, when that variable is not set (a laptop issuing a test token has no ticket
    database to record in). Raises Unavailable when the database is configured but the record cannot be written:
    the command must then withhold its result.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from linli.errors import Unavailable
    from services.intake.audit.flows import AuditLog
    from services.intake.database import Database
    from services.intake.settings import IntakeSettings

    settings = IntakeSettings()
    if "database_url" not in settings.model_fields_set:
        sys.stderr.write(f"linli {command}: warning: NOT AUDITED: {DATABASE_VARIABLE} is not set\n")
        return False
    database = Database(settings.database_url)
    try:
        database.upgrade_schema()
        AuditLog(database, cli_pseudonyms()).record(actor, action, subject, detail)
    except SQLAlchemyError as error:
        raise Unavailable(f"the audit log could not be written: {error}") from error
    finally:
        database.dispose()
    return True


def cli_pseudonyms() -> Pseudonyms:
    """The pseudonyms intake uses, keyed by LINLI_AUTH_SECRETS' signing key."""
    from linli.settings import AuthSettings
    from services.intake.audit.flows import Pseudonyms

    return Pseudonyms.from_signing_key(lambda: AuthSettings().signing_keys()[0])
