"""`python -m service` runs the `mcp-pdp` command."""

import sys

from service.cli.main import main

sys.exit(main())
