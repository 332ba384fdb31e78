"""Calls to the mcp-pdp decision API for the AgentCore interceptors: one deadline, fail closed.

Standard library only, so the Lambda package is these three files. Every way a
call can go wrong (no answer in time, a refused connection, a non-200 status, a
body that is not the documented shape) raises `PdpUnavailable`; the handlers turn
that into a deny. Nothing here caches: every request asks the PDP afresh.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("mcp_pdp.interceptor")

MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a tools/list of a few thousand tools fits
DEFAULT_TIMEOUT_SECONDS = 1.0
NAME_PATTERN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@-"
)


class PdpUnavailable(Exception):
    """The PDP gave no usable answer in time; the caller must deny."""


class ConfigError(PdpUnavailable):
    """The interceptor's environment is incomplete or invalid."""


@dataclass(frozen=True)
class Config:
    """Where the PDP is and how to call it (environment variables `PDP_*`)."""

    url: str
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    gateway: str = "default"
    resource_metadata: str | None = None

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.api_key else "unset"
        return f"Config(url={self.url!r}, api_key={key}, timeout={self.timeout})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read `PDP_URL`, `PDP_API_KEY`, `PDP_TIMEOUT_SECONDS`, `PDP_GATEWAY_ID`,
        `PDP_RESOURCE_METADATA_URL`; ConfigError when they cannot work."""
        env = os.environ if env is None else env
        url = env.get("PDP_URL", "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("PDP_URL must be an http(s):// URL of the PDP")
        try:
            timeout = float(env.get("PDP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
        except ValueError as exc:
            raise ConfigError("PDP_TIMEOUT_SECONDS must be a number") from exc
        if not 0 < timeout <= 30:
            raise ConfigError("PDP_TIMEOUT_SECONDS must be in (0, 30]")
        gateway = env.get("PDP_GATEWAY_ID", "default").strip() or "default"
        if len(gateway) > 128 or not set(gateway) <= NAME_PATTERN_CHARS:
            raise ConfigError("PDP_GATEWAY_ID must be 1-128 of A-Z a-z 0-9 _ . : @ -")
        return cls(
            url=url.rstrip("/"),
            api_key=env.get("PDP_API_KEY") or None,
            timeout=timeout,
            gateway=gateway,
            resource_metadata=env.get("PDP_RESOURCE_METADATA_URL") or None,
        )


def _abort(sock: socket.socket) -> None:
    """Deadline reached: shut the socket so a blocked read returns at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _remaining(deadline: float, sock: socket.socket) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(left)


def post_json(config: Config, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST `body` to the PDP at `path` and return the JSON object answered with 200.

    The whole exchange (connect, send, headers, body) ends within `config.timeout`:
    socket timeouts bound each step and a timer shuts the socket at the deadline.
    """
    parts = urlsplit(config.url)
    started = time.monotonic()
    deadline = started + config.timeout
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=config.timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    watchdog: threading.Timer | None = None
    try:
        connection.connect()  # bounded by the connection's timeout
        # Keep the socket: http.client hands it to the response and may forget it.
        sock = connection.sock
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0), _abort, args=(sock,))
        watchdog.daemon = True
        watchdog.start()
        _remaining(deadline, sock)
        connection.request("POST", parts.path + path, body=json.dumps(body), headers=headers)
        _remaining(deadline, sock)
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while True:
            _remaining(deadline, sock)
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise PdpUnavailable(f"{path}: answer larger than {MAX_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("deadline passed")
    except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors
        elapsed = time.monotonic() - started
        raise PdpUnavailable(f"{path}: {type(exc).__name__} after {elapsed:.3f}s") from exc
    finally:
        if watchdog is not None:
            watchdog.cancel()
        connection.close()
    if response.status != 200:
        raise PdpUnavailable(f"{path}: HTTP {response.status}")
    try:
        document = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise PdpUnavailable(f"{path}: answer is not JSON") from exc
    if not isinstance(document, dict):
        raise PdpUnavailable(f"{path}: answer is not a JSON object")
    return document


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def decide(config: Config, request: Mapping[str, Any]) -> dict[str, Any]:
    """`POST /v1/decisions`; the decision, checked against the documented shape."""
    answer = post_json(config, "/v1/decisions", request)
    if (
        answer.get("decision") not in ("allow", "deny")
        or not isinstance(answer.get("decision_id"), str)
        or not _strings(answer.get("reasons"))
        or not _strings(answer.get("errors", []))
        or not _strings(answer.get("required_scopes", []))
        or not isinstance(answer.get("code"), str | None)
    ):
        raise PdpUnavailable("/v1/decisions: answer is not a decision")
    return answer


def filter_tools(
    config: Config, request: Mapping[str, Any], sent: list[str]
) -> tuple[set[str], int]:
    """`POST /v1/tools/filter`; the names of the tools the user may see, and how
    long (ms) a client may cache that listing (0 when the PDP does not say).

    Every name sent must come back either listed or withheld, and nothing else:
    an answer that does not account for each tool is not trusted.
    """
    answer = post_json(config, "/v1/tools/filter", request)
    tools, withheld = answer.get("tools"), answer.get("withheld")
    if not isinstance(tools, list) or not isinstance(withheld, list) or not _strings(withheld):
        raise PdpUnavailable("/v1/tools/filter: answer has no `tools` and `withheld` lists")
    names = [t.get("name") if isinstance(t, dict) else None for t in tools]
    listed = {n for n in names if isinstance(n, str)}
    if (
        len(listed) != len(set(names))
        or listed | set(withheld) != set(sent)
        or (listed & set(withheld))
    ):
        raise PdpUnavailable("/v1/tools/filter: answer does not account for the tools sent")
    ttl = answer.get("max_ttl_ms")
    if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0:
        return listed, ttl
    return listed, 0
