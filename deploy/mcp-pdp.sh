#!/bin/sh
# `mcp-pdp` in the image: the service runs from /app (see deploy/Dockerfile).
exec python -m service "$@"
