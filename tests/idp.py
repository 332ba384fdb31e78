"""A real identity provider on loopback: discovery, JWKS, keys made here, rotation."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.settings import IssuerSettings

AUDIENCE = "api://mcp-gateway"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and left is what some tests want


class SigningKeyPair:
    """A private key with its `kid` and algorithm; `jwk()` is the public half."""

    def __init__(self, kid: str, alg: str = "RS256") -> None:
        self.kid = kid
        self.alg = alg
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}[alg]
            self.private: Any = ec.generate_private_key(curve)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def renamed(self, kid: str) -> SigningKeyPair:
        """The same private key under another `kid` (cheaper than a new key)."""
        twin = SigningKeyPair.__new__(SigningKeyPair)
        twin.kid, twin.alg, twin.private = kid, self.alg, self.private
        return twin

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public key as a JWK."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        entry: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        entry.update({"kid": self.kid, "use": "sig", **extra})
        return entry


class LoopbackIdP:
    """An OIDC issuer on 127.0.0.1: serves discovery and JWKS, signs tokens."""

    def __init__(self, *, prefix: str | None = None, delay: float = 0.0) -> None:
        self.published: list[SigningKeyPair] = []
        self.extra_jwks: list[dict[str, Any]] = []
        self.fetches: Counter[str] = Counter()
        self.status = 200
        self.delay = delay
        self.prefix = prefix
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = f"{self.base}/oauth2/default"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> LoopbackIdP:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the server down: from now on its port refuses connections."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    @property
    def discovery_url(self) -> str:
        """The OpenID Connect discovery document's URL."""
        return f"{self.base}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        """The JWKS URL."""
        return f"{self.base}/jwks.json"

    def add_key(self, kid: str, alg: str = "RS256") -> SigningKeyPair:
        """Generate a key and publish it in the JWKS."""
        key = SigningKeyPair(kid, alg)
        self.published.append(key)
        return key

    def settings(self, **overrides: Any) -> IssuerSettings:
        """This issuer's `[[issuers]]` entry, keys by discovery."""
        fields: dict[str, Any] = {
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
            "audiences": [AUDIENCE],
            "algorithms": ["RS256", "ES256"],
            "principal_prefix": self.prefix,
        }
        fields.update(overrides)
        if "jwks_uri" in overrides:
            fields.pop("discovery_url")
        return IssuerSettings(**fields)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a valid access token for alice, overridden field by field."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "client_id": "agent-app",
            "scope": "tools:read",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKeyPair | None = None, **claims: Any) -> str:
        """A token signed by `key` (default: the first published key)."""
        key = key or self.published[0]
        return jwt.encode(
            self.claims(**claims), key.private, algorithm=key.alg, headers={"kid": key.kid}
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.fetches[self.path] += 1
                if idp.delay:
                    time.sleep(idp.delay)
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri}
                elif self.path == "/jwks.json":
                    body = {"keys": [k.jwk() for k in idp.published] + idp.extra_jwks}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(idp.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
