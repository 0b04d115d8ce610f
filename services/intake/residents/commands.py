"""`linli residents erase`: erases one resident's personal data from the ticket database, on their request.

Only argparse is imported at module level: `linli` registers this command on every run.
"""

from __future__ import annotations

import argparse
import sys

RESIDENT_COMMANDS = ("residents",)


class _LeftToTheSweep:
    """The command does not publish tasks: beat's re-queue sweep sends the erased cases to retrieval within
    LINLI_INTAKE_STUCK_AFTER_SECONDS (they are marked pending in the same transaction)."""

    def enqueue_triage(self, ticket_id: str) -> None:
        """Never needed: erasure triages nothing."""

    def enqueue_case_sync(self, ticket_id: str) -> None:
        """Left to the re-queue sweep."""


def add_resident_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `residents erase` on the `linli` command."""
    residents = commands.add_parser("residents", help="residents' personal data in the ticket database")
    actions = residents.add_subparsers(dest="residents_action", required=True)
    erase = actions.add_parser(
        "erase",
        help="erase a resident's personal data (PIPL art. 47): their tickets are kept anonymized, open ones are "
        "still handled, and their tokens are refused",
    )
    # Residents who ask by phone or at the 居委会 know a ticket of theirs, not their openid.
    whom = erase.add_mutually_exclusive_group(required=True)
    whom.add_argument("--resident-id", help="the resident's openid, as their tickets carry it")
    whom.add_argument("--ticket-id", help="a ticket the resident filed: erases that resident (all their tickets)")
    erase.add_argument("--reason", default="", help="why, e.g. the request's reference; kept with the revocation")
    erase.add_argument("--actor", help="who erases (default: operator:<login name>)")


def run_resident_command(args: argparse.Namespace) -> int:
    """Runs `linli residents erase`; 0 when erased, 1 when no ticket carries the id or the database fails."""
    import secrets

    from sqlalchemy.exc import SQLAlchemyError

    from linli.errors import NotFound
    from services.intake.auth.commands import operator_name
    from services.intake.database import Database
    from services.intake.residents.erasure import ErasureFlows
    from services.intake.settings import IntakeSettings
    from services.intake.tickets.context import FlowContext, LifecyclePolicy
    from services.intake.uploads.assembly import create_object_store
    from services.intake.uploads.settings import UploadSettings

    settings = IntakeSettings()
    try:
        # The command signs no photo link: a throwaway key serves a local store, from which it only deletes.
        photos = create_object_store(UploadSettings(), secrets=[secrets.token_bytes(32)])
    except Exception as error:  # an S3 store unreachable: erase nothing rather than leave the photos behind
        sys.stderr.write(f"linli residents erase: the photo store failed, nothing erased: {error}\n")
        return 1
    database = Database(settings.database_url)
    try:
        database.upgrade_schema()
        context = FlowContext(database, _LeftToTheSweep(), policy=LifecyclePolicy.from_settings(settings))
        erasure = ErasureFlows(context, photos=photos)
        resident_id = args.resident_id or erasure.resident_of(args.ticket_id)
        report = erasure.erase_resident(resident_id, actor=args.actor or operator_name(), reason=args.reason)
    except NotFound as error:
        sys.stderr.write(f"linli residents erase: {error}\n")
        return 1
    except SQLAlchemyError as error:
        sys.stderr.write(f"linli residents erase: the ticket database failed: {error}\n")
        return 1
    finally:
        database.dispose()
    tokens = "tokens refused" if report.tokens_revoked else "no token could carry this id"
    sys.stdout.write(
        f"erased: {report.tickets} ticket(s) and {report.events} event(s) changed, now {report.tombstone}; "
        f"{report.case_syncs} case(s) to re-send to retrieval; {tokens}\n"
    )
    return _audit_erasure(args.actor or operator_name(), report.tombstone, report.tickets)


def _audit_erasure(actor: str, tombstone: str, tickets: int) -> int:
    """Records the erasure under the tombstone (the erased id is what must not be kept); 1 when it could not be."""
    from linli.errors import Unavailable
    from services.intake.audit.commands import record_operator_action
    from services.intake.audit.models import AuditAction

    try:
        record_operator_action("residents erase", actor, AuditAction.RESIDENT_ERASED, tombstone, {"tickets": tickets})
    except Unavailable as error:
        sys.stderr.write(f"linli residents erase: erased, but NOT AUDITED: {error}\n")
        return 1
    return 0
