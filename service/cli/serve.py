"""`mcp-pdp serve`: check the database and policies, then run the service (one or more workers)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

from sqlalchemy.exc import SQLAlchemyError

from service.cli.common import EXIT_OK, in_session
from service.engine.errors import PolicyLoadError
from service.engine.policies import load_snapshot
from service.policies.reloader import EMPTY_REGISTRY
from service.settings import Settings
from service.store.keys import count_keys
from service.store.migrate import is_missing_table
from service.store.tools import load_tools

APP = "service.app:app_from_env"


def positive(text: str) -> int:
    """An argparse type: an integer of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Report what the service will start with, then serve until stopped."""
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
        missing = is_missing_table(exc)
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
