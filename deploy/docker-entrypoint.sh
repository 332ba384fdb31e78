#!/bin/sh
# `serve` (the default): migrate the database, then serve with MCP_PDP_WORKERS
# workers. Set MCP_PDP_MIGRATE_ON_START=false where a separate job migrates (the
# Helm chart does), so replicas never race each other to upgrade the schema.
# Any other command runs as `mcp-pdp <command>`, e.g. `tools sync /data/tools.json`.
set -eu

if [ "$#" -eq 0 ] || [ "$1" = "serve" ]; then
    [ "$#" -gt 0 ] && shift
    if [ "${MCP_PDP_MIGRATE_ON_START:-true}" = "true" ]; then
        mcp-pdp migrate
    fi
    exec mcp-pdp serve --host "${MCP_PDP_HOST:-0.0.0.0}" --port "${MCP_PDP_PORT:-8080}" \
        --workers "${MCP_PDP_WORKERS:-2}" "$@"
fi
exec mcp-pdp "$@"
