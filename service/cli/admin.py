"""The data commands: migrate, tools sync, seed, roles and attributes."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from service.cli.common import EXIT_OK, in_session
from service.settings import Settings
from service.store.migrate import migrate


def migrate_schema(_args: argparse.Namespace, settings: Settings) -> int:
    """Create or upgrade the database schema."""
    migrate(settings)
    return EXIT_OK


def tools_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Replace the tool registry with a tools/list JSON file."""
    from service.policies.registry import sync_tools
    from service.store.seed import read_json

    document = read_json(Path(args.file))
    snapshot = asyncio.run(
        in_session(
            settings,
            lambda s: sync_tools(
                session=s, document=document, policy_dir=settings.policy_dir, actor="cli"
            ),
        )
    )
    print(f"registered {len(snapshot.tools)} tools")
    return EXIT_OK


def seed(args: argparse.Namespace, settings: Settings) -> int:
    """Apply roles, assignments and attributes from a JSON document."""
    from service.store.seed import apply_seed, read_json

    document = read_json(Path(args.file))
    asyncio.run(
        in_session(settings, lambda s: apply_seed(session=s, document=document, actor="cli"))
    )
    print(f"applied {args.file}")
    return EXIT_OK


def roles_put(args: argparse.Namespace, settings: Settings) -> int:
    """Create or update a role."""
    from service.store.roles import put_role

    asyncio.run(
        in_session(
            settings,
            lambda s: put_role(
                session=s,
                name=args.name,
                description=args.description,
                parents=args.parent,
                actor="cli",
            ),
        )
    )
    print(f"role {args.name} saved")
    return EXIT_OK


def roles_assign(args: argparse.Namespace, settings: Settings) -> int:
    """Give a principal a role."""
    from service.store.principals import assign_role

    expires = datetime.fromisoformat(args.expires_at) if args.expires_at else None
    asyncio.run(
        in_session(
            settings,
            lambda s: assign_role(
                session=s,
                principal_id=args.principal,
                role=args.role,
                expires_at=expires,
                reason=args.reason,
                actor="cli",
            ),
        )
    )
    print(f"{args.principal} now holds {args.role}")
    return EXIT_OK


def attributes_set(args: argparse.Namespace, settings: Settings) -> int:
    """Set (or, with null, remove) a principal's attributes."""
    from service.store.principals import set_attributes

    changes: dict[str, Any] = {}
    for pair in args.pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"{pair!r}: expected NAME=JSON (e.g. clearance=3, region='\"eu\"')")
        changes[name] = json.loads(raw)
    asyncio.run(
        in_session(
            settings,
            lambda s: set_attributes(
                session=s, principal_id=args.principal, changes=changes, actor="cli"
            ),
        )
    )
    print(f"attributes of {args.principal} updated")
    return EXIT_OK
