"""`python -m bench.serve PORT WORKERS`: `bench.app` served as `mcp-pdp serve` serves the app."""

from __future__ import annotations

import sys

from service.cli.workers import Supervisor


def main() -> int:
    """Serve `bench.app:bench_app` on 127.0.0.1 with the production worker supervisor."""
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    options = {"factory": True, "log_level": "warning", "proxy_headers": False}
    return Supervisor(
        "bench.app:bench_app", host="127.0.0.1", port=port, count=workers, **options
    ).run()


if __name__ == "__main__":
    sys.exit(main())
