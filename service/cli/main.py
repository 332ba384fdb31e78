"""`mcp-pdp`: serve, migrate, seed and check from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service import __version__
from service.cli import admin
from service.cli.authoring import add_commands as add_policy_commands
from service.cli.common import EXIT_INVALID
from service.cli.serve import positive, serve
from service.engine.errors import PolicyLoadError
from service.engine.tools import ToolDefinitionError
from service.settings import CONFIG_ENV, load_settings
from service.store.errors import StoreError
from service.store.migrate import shown_url

CONFIG_HELP = "TOML settings file (or MCP_PDP_CONFIG)"


class _CommandParser(argparse.ArgumentParser):
    """A command's parser: takes `--config` too, so it may come before or after the command."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # SUPPRESS: when absent here, the value given before the command stands.
        self.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-pdp", description=__doc__)
    parser.add_argument("--config", help=CONFIG_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # Nested commands (`tools sync`, `roles put`) inherit the parser class.
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)

    serving = commands.add_parser("serve", help="run the decision service")
    serving.add_argument("--host")
    serving.add_argument("--port", type=int)
    serving.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="processes, each on its own SO_REUSEPORT socket",
    )
    serving.set_defaults(run=serve)

    commands.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        run=admin.migrate_schema
    )

    tools = commands.add_parser("tools", help="the tool registry").add_subparsers(
        dest="tools_command", required=True
    )
    sync = tools.add_parser("sync", help="replace the registry with a tools/list JSON file")
    sync.add_argument("file")
    sync.set_defaults(run=admin.tools_sync)

    seed = commands.add_parser(
        "seed", help="apply a JSON document of roles, assignments, attributes"
    )
    seed.add_argument("file")
    seed.set_defaults(run=admin.seed)

    roles = commands.add_parser("roles", help="roles and assignments").add_subparsers(
        dest="roles_command", required=True
    )
    put = roles.add_parser("put", help="create or update a role")
    put.add_argument("name")
    put.add_argument("--parent", action="append", default=[], help="inherited role (repeat)")
    put.add_argument("--description", default="")
    put.set_defaults(run=admin.roles_put)
    assign = roles.add_parser("assign", help="give a principal a role")
    assign.add_argument("principal")
    assign.add_argument("role")
    assign.add_argument("--expires-at", help="ISO 8601 time, e.g. 2027-01-01T00:00:00+00:00")
    assign.add_argument("--reason", default="cli")
    assign.set_defaults(run=admin.roles_assign)

    attributes = commands.add_parser("attributes", help="principal attributes").add_subparsers(
        dest="attributes_command", required=True
    )
    set_ = attributes.add_parser("set", help="set attributes: NAME=JSON (null removes)")
    set_.add_argument("principal")
    set_.add_argument("pairs", nargs="+")
    set_.set_defaults(run=admin.attributes_set)

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
    except SQLAlchemyError as exc:
        # The driver's first line says what failed; the rest is SQL text and parameters.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = shown_url(settings.database_url)
        print(f"error: the database at {where}: {type(exc).__name__}: {reason}", file=sys.stderr)
        return EXIT_INVALID
    return code


if __name__ == "__main__":
    sys.exit(main())
