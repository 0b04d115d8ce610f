"""`linli org`: the organisation in the ticket database (LINLI_INTAKE_DATABASE_URL): streets, communities on them,
workers of a party over a community or a street, and their WeCom accounts.

Only argparse is imported at module level: `linli` registers this command on every run.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.intake.organisation.flows import Organisation, OrganisationFlows

ORG_COMMANDS = ("org",)


def add_org_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers `org street add`, `org community add`, `org list`, `org worker add`, `org worker deactivate` and
    `org worker activate`."""
    org = commands.add_parser("org", help="streets, communities and workers in the ticket database")
    things = org.add_subparsers(dest="org_thing", required=True)
    street = things.add_parser("street", help="streets (街道)").add_subparsers(dest="org_action", required=True)
    street_add = street.add_parser("add", help="add a street, or rename the one of this code")
    street_add.add_argument("code", help="short code: letters, digits, - and _")
    street_add.add_argument("name", help="its name, e.g. 北新泾街道")
    community = things.add_parser("community", help="communities").add_subparsers(dest="org_action", required=True)
    community_add = community.add_parser("add", help="add a community, or move one to a street")
    community_add.add_argument("name", help="the name tickets carry")
    community_add.add_argument("--street", default="", help="the street's code")
    things.add_parser("list", help="print the streets, communities, parties and workers")
    worker = things.add_parser("worker", help="workers").add_subparsers(dest="org_action", required=True)
    worker_add = worker.add_parser("add", help="add a worker who can sign in with WeCom")
    worker_add.add_argument("worker_id")
    worker_add.add_argument("--party", required=True, help="e.g. property_manager")
    scope = worker_add.add_mutually_exclusive_group()
    scope.add_argument("--community", default="", help="the one community they serve")
    scope.add_argument("--street", default="", help="the street (code) whose every community they serve")
    worker_add.add_argument("--role", choices=("worker", "dispatcher", "admin"), default="worker")
    worker_add.add_argument("--wecom-userid", default="", help="their WeCom (企业微信) userid")
    worker_add.add_argument("--name", default="", help="their name as colleagues see it")
    deactivate = worker.add_parser("deactivate", help="stop a worker's WeCom logins and end their sessions")
    deactivate.add_argument("worker_id")
    deactivate.add_argument("--actor", help="who deactivates (default: operator:<login name>)")
    activate = worker.add_parser("activate", help="let a deactivated worker sign in again")
    activate.add_argument("worker_id")


def run_org_command(args: argparse.Namespace) -> int:
    """Runs a `linli org` command; 0 on success, 2 with the reason on stderr for bad arguments, 1 for an unknown
    worker or a database that fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from linli.errors import LinliError, NotFound
    from linli.parties import display_name
    from services.intake.database import Database
    from services.intake.organisation.flows import OrganisationFlows
    from services.intake.settings import IntakeSettings

    settings = IntakeSettings()  # the command's entry: the environment is read here
    database = Database(settings.database_url)
    try:
        database.upgrade_schema()
        flows = OrganisationFlows(database)
        flows.seed(settings.known_communities, {party: display_name(party) for party in settings.parties})
        _run(args, flows)
        return 0
    except NotFound as error:
        sys.stderr.write(f"linli org: {error}\n")
        return 1
    except LinliError as error:
        details = "; ".join(f"{v.field}: {v.description}" for v in error.violations)
        sys.stderr.write(f"linli org: {error}{' (' + details + ')' if details else ''}\n")
        return 2
    except SQLAlchemyError as error:
        sys.stderr.write(f"linli org: the ticket database failed: {error}\n")
        return 1
    finally:
        database.dispose()


def _run(args: argparse.Namespace, flows: OrganisationFlows) -> None:
    from services.intake.organisation.flows import NewWorker

    if args.org_thing == "list":
        _print_listing(flows.listing())
    elif args.org_thing == "street":
        street = flows.add_street(args.code, args.name)
        sys.stdout.write(f"street {street.code}: {street.name}\n")
    elif args.org_thing == "community":
        community = flows.add_community(args.name, args.street)
        sys.stdout.write(f"community {community.name} on street {community.street or '(none)'}\n")
    elif args.org_action == "add":
        new = NewWorker(
            args.worker_id, args.party, args.community, args.street, args.role, args.wecom_userid, args.name
        )
        record = flows.add_worker(new)
        scope = record.community or (f"street {record.street}" if record.street else "every community")
        sys.stdout.write(f"worker {record.worker_id} ({record.party}, {record.role}) serves {scope}\n")
    elif args.org_action == "deactivate":
        from services.intake.auth.commands import operator_name

        record = flows.deactivate_worker(args.worker_id, actor=args.actor or operator_name())
        sys.stdout.write(f"worker {record.worker_id} deactivated: WeCom logins refused, issued tokens revoked\n")
    else:
        record = flows.activate_worker(args.worker_id)
        sys.stdout.write(f"worker {record.worker_id} active: may sign in again (earlier tokens stay revoked)\n")


def _print_listing(organisation: Organisation) -> None:
    write = sys.stdout.write
    write("streets:\n")
    for street in organisation.streets:
        write(f"  {street.code}  {street.name}\n")
    write("communities:\n")
    for community in organisation.communities:
        state = "" if community.active else "  (inactive)"
        write(f"  {community.name}  street={community.street or '-'}{state}\n")
    write("parties:\n")
    for code, name in organisation.parties.items():
        write(f"  {code}  {name}\n")
    write("workers:\n")
    for worker in organisation.workers:
        scope = f"community={worker.community}" if worker.community else f"street={worker.street or '*'}"
        state = "" if worker.active else "  (inactive)"
        userid = f"  wecom={worker.wecom_userid}" if worker.wecom_userid else ""
        write(f"  {worker.worker_id}  {worker.party}  {worker.role}  {scope}{userid}{state}\n")
