"""Structured JSON logs on stderr; secrets are never passed to the logger."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from service.observability.request_context import current_request_id

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with any `extra=` fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send mcp-pdp's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mcp_pdp")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
