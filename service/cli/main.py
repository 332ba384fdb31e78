"""`mcp-pdp`: serve, migrate, seed and check from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service import __version__
from service.cli.authoring import add_commands as add_policy_commands
from service.cli.common import EXIT_INVALID, EXIT_OK, in_session
from service.engine.errors import PolicyLoadError
from service.engine.policies import load_snapshot
from service.engine.tools import ToolDefinitionError
from service.policies.reloader import EMPTY_REGISTRY
from service.settings import CONFIG_ENV, Settings, load_settings
from service.store.errors import StoreError
from service.store.keys import count_keys
from service.store.migrate import migrate
from service.store.tools import load_tools


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    migrate(settings)
    return EXIT_OK


APP = "service.app:app_from_env"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.cli.workers import Supervisor

    host = args.host or settings.host
    port = args.port or settings.port
    # The app (and every worker) builds its settings from the environment; the
    # bind address decides whether caller keys are required by default.
    os.environ["MCP_PDP_HOST"] = host
    settings = Settings()
    keys: int | None = None
    if settings.bootstrap_admin_key is None:
        with contextlib.suppress(SQLAlchemyError):  # reported just below, with the tools
            # A key the settings stored earlier is revoked at start: it does not count.
            keys = asyncio.run(in_session(settings, lambda s: count_keys(session=s, lasting=True)))
        if keys == 0 and settings.require_caller_key:
            print(
                f"WARNING: serving on {host} with caller keys required, but no API key exists "
                "and bootstrap_admin_key is unset: every decision and admin call will get 401. "
                "Set MCP_PDP_BOOTSTRAP_ADMIN_KEY to create a first admin key.",
                file=sys.stderr,
            )
        elif keys == 0:
            print(
                "note: no API key exists, so the admin API answers 401 to everyone; "
                "set MCP_PDP_BOOTSTRAP_ADMIN_KEY to create a first admin key.",
                file=sys.stderr,
            )
    # Check policies first so an invalid set stops here with file:line, not a traceback.
    try:
        tools = asyncio.run(in_session(settings, lambda s: load_tools(session=s)))
    except SQLAlchemyError as exc:
        # A missing table reads "no such table" (SQLite) or "does not exist" (PostgreSQL).
        missing = any(m in str(exc) for m in ("no such table", "does not exist"))
        problem = "is not migrated (run `mcp-pdp migrate`)" if missing else "does not answer"
        print(
            f"warning: the database {problem} ({type(exc).__name__}); serving anyway: "
            "/readyz stays 503 and decisions deny until it does",
            file=sys.stderr,
        )
        summary = "policies pending"
    else:
        try:
            snapshot = load_snapshot(settings.policy_dir, tools)
        except PolicyLoadError as exc:
            if tools:
                raise
            print(f"warning: {exc}; {EMPTY_REGISTRY}", file=sys.stderr)
            summary = "policies pending: /readyz stays 503 until tools are registered"
        else:
            summary = f"{len(snapshot.policies)} policies, {len(tools)} tools"
    print(f"mcp-pdp serving on http://{host}:{port} ({summary}); OpenAPI at /docs", file=sys.stderr)
    options = {"factory": True, "log_level": "warning", "proxy_headers": False}
    if args.workers > 1:
        return Supervisor(APP, host=host, port=port, count=args.workers, **options).run()
    uvicorn.run(APP, host=host, port=port, **options)  # type: ignore[arg-type]
    return EXIT_OK


def _tools_sync(args: argparse.Namespace, settings: Settings) -> int:
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


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from service.store.seed import apply_seed, read_json

    document = read_json(Path(args.file))
    asyncio.run(
        in_session(settings, lambda s: apply_seed(session=s, document=document, actor="cli"))
    )
    print(f"applied {args.file}")
    return EXIT_OK


def _roles_put(args: argparse.Namespace, settings: Settings) -> int:
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


def _roles_assign(args: argparse.Namespace, settings: Settings) -> int:
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


def _attributes_set(args: argparse.Namespace, settings: Settings) -> int:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-pdp", description=__doc__)
    parser.add_argument("--config", help="TOML settings file (or MCP_PDP_CONFIG)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the decision service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes, each on its own SO_REUSEPORT socket",
    )
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        run=_migrate
    )

    tools = commands.add_parser("tools", help="the tool registry").add_subparsers(
        dest="tools_command", required=True
    )
    sync = tools.add_parser("sync", help="replace the registry with a tools/list JSON file")
    sync.add_argument("file")
    sync.set_defaults(run=_tools_sync)

    seed = commands.add_parser(
        "seed", help="apply a JSON document of roles, assignments, attributes"
    )
    seed.add_argument("file")
    seed.set_defaults(run=_seed)

    roles = commands.add_parser("roles", help="roles and assignments").add_subparsers(
        dest="roles_command", required=True
    )
    put = roles.add_parser("put", help="create or update a role")
    put.add_argument("name")
    put.add_argument("--parent", action="append", default=[], help="inherited role (repeat)")
    put.add_argument("--description", default="")
    put.set_defaults(run=_roles_put)
    assign = roles.add_parser("assign", help="give a principal a role")
    assign.add_argument("principal")
    assign.add_argument("role")
    assign.add_argument("--expires-at", help="ISO 8601 time, e.g. 2027-01-01T00:00:00+00:00")
    assign.add_argument("--reason", default="cli")
    assign.set_defaults(run=_roles_assign)

    attributes = commands.add_parser("attributes", help="principal attributes").add_subparsers(
        dest="attributes_command", required=True
    )
    set_ = attributes.add_parser("set", help="set attributes: NAME=JSON (null removes)")
    set_.add_argument("principal")
    set_.add_argument("pairs", nargs="+")
    set_.set_defaults(run=_attributes_set)

    add_policy_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mcp-pdp` command."""
    args = _parser().parse_args(argv)
    config = args.config or os.environ.get(CONFIG_ENV)
    try:
        settings = load_settings(config)
        code: int = args.run(args, settings)
    except PolicyLoadError as exc:
        print(f"invalid policies: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (ToolDefinitionError, StoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    return code


if __name__ == "__main__":
    sys.exit(main())
