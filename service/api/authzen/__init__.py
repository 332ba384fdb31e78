"""AuthZEN 1.0 Authorization API, with the COAZ MCP profile's mappings (docs/authzen.md)."""
