"""Tiny HTTP servers on 127.0.0.1 for interceptor tests: a canned or misbehaving PDP, a JWKS issuer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "api://mcp-gateway"

# (status, headers, body bytes, seconds to wait before answering)
Reply = tuple[int, dict[str, str], bytes, float]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the interceptor hanging up on a slow answer is what some tests want


class Recorder:
    """What a loopback server was asked: (path, headers, parsed JSON body)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], Any]] = []


@contextmanager
def serve(
    reply: Callable[[str, Any], Reply | None], *, drip: float = 0.0
) -> Iterator[tuple[str, Recorder]]:
    """Serve `reply(path, body)` on a free port until the block ends; yields (URL, recorder).

    A None reply closes the connection without an answer. `drip` > 0 sends the
    body one byte at a time with that pause between bytes.
    """
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
            recorder.calls.append((self.path, dict(self.headers), body))
            answer = reply(self.path, body)
            if answer is None:
                self.close_connection = True
                return
            status, headers, payload, delay = answer
            time.sleep(delay)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if drip:
                for byte in payload:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(drip)
            else:
                self.wfile.write(payload)

        do_GET = do_POST

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


def json_reply(document: Any, status: int = 200, delay: float = 0.0) -> Callable[[str, Any], Reply]:
    """A server answer that always returns `document` as JSON."""
    payload = json.dumps(document).encode()
    return lambda _path, _body: (status, {}, payload, delay)


def listing_only(*keep: str) -> Callable[[str, Any], Reply]:
    """A PDP tool filter that lists only the tools named `keep` of those it is sent."""

    def reply(_path: str, body: Any) -> Reply:
        tools = body["tools"]
        answer = {
            "tools": [t for t in tools if t["name"] in keep],
            "withheld": [t["name"] for t in tools if t["name"] not in keep],
        }
        return 200, {}, json.dumps(answer).encode(), 0.0

    return reply


class Issuer:
    """An RS256 signing key, its JWKS served on loopback, and tokens signed with it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
        self.url = ""

    @contextmanager
    def running(self) -> Iterator[Issuer]:
        """Serve `/jwks` until the block ends."""
        with serve(json_reply(self.jwks)) as (url, _):
            self.url = url
            yield self

    def settings(self) -> list[dict[str, Any]]:
        """`MCP_PDP_ISSUERS` for a PDP that trusts this issuer."""
        return [{"issuer": self.url, "jwks_uri": f"{self.url}/jwks", "audiences": [AUDIENCE]}]

    def token(self, sub: str, *, expires_in: int = 600, **claims: Any) -> str:
        """A signed access token for `sub`."""
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + expires_in}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})
