"""The load generator: wrk, one thread, bodies from a Lua script, results as JSON."""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SUBJECT = "__SUBJECT__"
_MARK = "BENCHJSON "

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
local pre = {%(pre)s}
local post = {%(post)s}
local n = #pre
local i = 0
request = function()
  i = i + 1
  local k = (i %% n) + 1
  local subject = %(subject)s
  return wrk.format(nil, "%(path)s", nil, pre[k] .. subject .. post[k])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,' ..
    '"non2xx":%%d,"socket_errors":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def _lua_string(text: str) -> str:
    if "]==]" in text:
        raise ValueError("body holds the Lua long-string terminator")
    return f"[==[{text}]==]"


def lua_script(
    path: str,
    bodies: list[dict[str, Any]],
    *,
    unique: bool,
    headers: dict[str, str] | None = None,
) -> str:
    """A wrk script cycling through `bodies`; `SUBJECT` in each becomes the subject.

    unique: every request a new subject (`<run nonce>-<counter>`), so no two
    requests are alike; else the subject stays fixed per body, so requests repeat.
    """
    pre, post = [], []
    for body in bodies:
        text = json.dumps(body, separators=(",", ":"))
        if SUBJECT not in text:
            raise ValueError("body has no subject placeholder")
        head, tail = text.split(SUBJECT, 1)
        pre.append(_lua_string(head))
        post.append(_lua_string(tail))
    nonce = secrets.token_hex(4)
    subject = f'"{nonce}-" .. i' if unique else '"u" .. k'
    return _LUA % {
        "pre": ",".join(pre),
        "post": ",".join(post),
        "subject": subject,
        "path": path,
        "mark": _MARK,
        "headers": "\n".join(
            f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}"
            for k, v in (headers or {}).items()
        ),
    }


def run_wrk(
    wrk: str, url: str, script: Path, *, seconds: float, connections: int, timeout: float = 5.0
) -> Result:
    """Run wrk once (one thread) and read the numbers its `done` hook prints."""
    completed = subprocess.run(  # noqa: S603
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            f"--timeout={timeout:g}s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    lines = [x for x in completed.stdout.splitlines() if x.startswith(_MARK)]
    if not lines:
        raise RuntimeError(f"wrk printed no result: {completed.stderr[:500]}")
    line = lines[0]
    raw = json.loads(line.removeprefix(_MARK))
    elapsed = raw["duration_us"] / 1e6
    return Result(
        requests=raw["requests"],
        seconds=round(elapsed, 3),
        rps=round(raw["requests"] / elapsed, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=raw["socket_errors"],
    )
