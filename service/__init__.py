"""mcp-pdp: a policy decision point for MCP gateways."""

from importlib.metadata import version

# From the installed package's metadata, so pyproject.toml is the one place to bump it.
__version__ = version("mcp-pdp")
