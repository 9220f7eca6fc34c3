"""``motadata-ai privacy export|erase`` and ``motadata-ai maintenance``: a user's data across
every store, and the retention periods.

``privacy export --tenant T --user U [--output FILE]`` writes one JSON document (schema
``motadata-ai.user-export/1``, see docs/privacy.md) to ``FILE`` or standard output;
``privacy erase --tenant T --user U`` erases the user everywhere and prints the counts per store;
``maintenance [--tenant T ...]`` deletes what is past each tenant's retention periods (default:
the tenants named in ``MOTADATA_PRIVACY__TENANT_RETENTION``, and ``default``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``privacy`` and ``maintenance`` sub-commands."""
    privacy = subparsers.add_parser("privacy", help="export or erase one user's data in every store")
    actions = privacy.add_subparsers(dest="privacy_command", metavar="ACTION")
    export = actions.add_parser("export", help="write everything held about a user as one JSON document")
    _user(export)
    export.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: stdout)")
    export.set_defaults(func=run_export)
    erase = actions.add_parser(
        "erase", help="erase a user's data in every store (usage and audit kept, pseudonymised)"
    )
    _user(erase)
    erase.set_defaults(func=run_erase)
    privacy.set_defaults(func=lambda args: (privacy.print_help(), 2)[1])

    maintenance = subparsers.add_parser(
        "maintenance", help="delete what is past the retention periods and print the counts"
    )
    maintenance.add_argument(
        "--tenant", action="append", default=None, help="tenant id (repeatable; default: the configured ones)"
    )
    maintenance.set_defaults(func=run_maintenance)


def _user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id")
    parser.add_argument("--user", required=True, help="user id")


def run_export(args: argparse.Namespace) -> int:
    """Write the export."""
    from motadata_ai.api import connect

    async def export() -> str:
        async with connect(warm_up=False) as ai:
            return (await ai.privacy.export_user(tenant_id=args.tenant, user_id=args.user)).to_json()

    document = asyncio.run(export())
    if args.output is None:
        sys.stdout.write(document + "\n")
    else:
        args.output.write_text(document + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def run_erase(args: argparse.Namespace) -> int:
    """Erase and print the report."""
    from motadata_ai.api import connect

    async def erase() -> Any:
        async with connect(warm_up=False) as ai:
            return await ai.privacy.erase_user(tenant_id=args.tenant, user_id=args.user)

    report = asyncio.run(erase())
    print(json.dumps({"tenant_id": report.tenant_id, "pseudonym": report.pseudonym, "counts": report.counts}))
    return 0


def run_maintenance(args: argparse.Namespace) -> int:
    """Enforce retention per tenant and print one JSON line each."""
    from motadata_ai.api import connect

    async def enforce() -> list[Any]:
        async with connect(warm_up=False) as ai:
            tenants = args.tenant or sorted({"default", *ai.settings.privacy.tenant_retention})
            return [await ai.privacy.enforce_retention(tenant_id=t) for t in tenants]

    for report in asyncio.run(enforce()):
        print(json.dumps({"tenant_id": report.tenant_id, "deleted": report.counts}))
    return 0
