"""Who may call what: admin keys, decide keys, caller keys on the decision API."""

from __future__ import annotations

import asyncio
import hashlib
import re
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.settings import Settings
from service.store.db import sync_url
from tests.conftest import ADMIN_KEY, app_client, decision_body, demo_settings

PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/.well-known/authzen-configuration",  # AuthZEN PDP metadata: endpoint URLs, no secret
}
PATH_VALUES = {"role": "analyst", "principal_id": "alice", "key_id": "0123456789abcdef"}


def all_routes(app: object) -> list[tuple[str, set[str]]]:
    """(path template, methods) of every route, through included routers."""
    found: list[tuple[str, set[str]]] = []
    for route in app.routes:  # type: ignore[attr-defined]
        # Newer FastAPI keeps included routers as branches; older ones flatten them.
        contexts = getattr(route, "effective_route_contexts", None)
        for item in contexts() if contexts else [route]:
            found.append((item.path, set(getattr(item, "methods", None) or ())))
    documented = {path for path in app.openapi()["paths"]}  # type: ignore[attr-defined]
    assert documented <= {path for path, _ in found}  # the walk misses nothing documented
    return found


def routes(app: object, prefix: str) -> list[tuple[str, str]]:
    """(method, concrete path) of every API route under `prefix`."""
    found = []
    for template, methods in all_routes(app):
        if template.startswith(prefix):
            path = re.sub(r"{(\w+)(:\w+)?}", lambda m: PATH_VALUES[m.group(1)], template)
            found.extend((method, path) for method in sorted(methods))
    return found


async def make_key(
    admin: httpx.AsyncClient, scope: str, trusted: bool = False, headers: dict | None = None
) -> dict:
    body = {"name": f"{scope}-key", "scope": scope, "trusted_claims": trusted}
    response = await admin.post("/admin/v1/keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_every_route_is_public_admin_or_decision(admin: httpx.AsyncClient) -> None:
    # A new route outside these prefixes must be added to PUBLIC on purpose.
    paths = [path for path, _ in all_routes(admin.app)]  # type: ignore[attr-defined]
    assert len(paths) >= 17
    for path in paths:
        assert path in PUBLIC or path.startswith(("/admin/v1/", "/v1/", "/access/v1/")), path


async def test_every_admin_route_refuses_missing_wrong_and_decide_keys(
    admin: httpx.AsyncClient,
) -> None:
    decide = await make_key(admin, "decide")
    admin_routes = routes(admin.app, "/admin/v1")  # type: ignore[attr-defined]
    assert len(admin_routes) >= 14
    wrong = "mcppdp_0123456789abcdef_" + "x" * 43
    for method, path in admin_routes:
        for headers, status in [
            ({"Authorization": ""}, 401),
            (bearer("not-a-key"), 401),
            (bearer(wrong), 401),
            (bearer(ADMIN_KEY + "x"), 401),
            ({"Authorization": f"Basic {ADMIN_KEY}"}, 401),
            (bearer(decide["key"]), 403),
        ]:
            response = await admin.request(method, path, json={}, headers=headers)
            assert response.status_code == status, (method, path, headers, response.text)
            if status == 401:
                assert response.headers["www-authenticate"] == "Bearer"


async def test_decision_routes_need_a_key_when_required(database_url: str) -> None:
    from tests.conftest import load_demo

    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY, require_caller_key=True)
    async with app_client(settings) as http:
        admin_headers = bearer(ADMIN_KEY)
        created = await http.post(
            "/admin/v1/keys", json={"name": "gw", "scope": "decide"}, headers=admin_headers
        )
        decide = created.json()["key"]
        token_body = {"token": "eyJhbGciOiJub25lIn0.e30.", "method": "tools/list"}
        v1_routes = routes(http.app, "/v1/")  # type: ignore[attr-defined]
        assert ("POST", "/v1/decisions") in v1_routes
        v1_routes += routes(http.app, "/access/v1/")  # type: ignore[attr-defined]
        for method, path in v1_routes:
            for headers in [{}, bearer("nope"), bearer(decide + "x")]:
                response = await http.request(method, path, json=token_body, headers=headers)
                assert response.status_code == 401, (path, headers)
        allowed = await http.post("/v1/decisions", json=token_body, headers=bearer(decide))
        assert allowed.status_code == 200
        assert allowed.json()["code"] == "invalid_token"  # authenticated, then decided
        as_admin = await http.post("/v1/decisions", json=token_body, headers=admin_headers)
        assert as_admin.status_code == 200


async def test_claims_need_a_trusted_key_when_keys_are_required(database_url: str) -> None:
    from tests.conftest import load_demo

    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY, require_caller_key=True)
    async with app_client(settings) as http:
        http.headers.update(bearer(ADMIN_KEY))
        plain = (await http.post("/admin/v1/keys", json={"name": "a", "scope": "decide"})).json()
        trusted = (
            await http.post(
                "/admin/v1/keys", json={"name": "b", "scope": "decide", "trusted_claims": True}
            )
        ).json()
        body = decision_body(tool="docs___search", arguments={"query": "q"})
        refused = await http.post("/v1/decisions", json=body, headers=bearer(plain["key"]))
        assert refused.status_code == 403
        assert "trusted" in refused.json()["detail"]
        by_admin = await http.post("/v1/decisions", json=body)  # admin key, not trusted
        assert by_admin.status_code == 403
        accepted = await http.post("/v1/decisions", json=body, headers=bearer(trusted["key"]))
        assert accepted.status_code == 200
        assert accepted.json()["decision"] == "allow"


async def test_without_required_keys_anyone_may_send_claims(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/decisions", json=decision_body(tool="docs___search", arguments={"query": "q"})
    )
    assert response.status_code == 200
    assert response.json()["decision"] == "allow"


@pytest.mark.parametrize(
    ("host", "setting", "required"),
    [
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", None, True),
        ("10.1.2.3", None, True),
        ("0.0.0.0", False, False),
        ("127.0.0.1", True, True),
    ],
)
def test_require_caller_key_defaults_from_the_bind_address(
    host: str, setting: bool | None, required: bool
) -> None:
    assert Settings(host=host, require_caller_key=setting).require_caller_key is required


def test_short_bootstrap_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Settings(bootstrap_admin_key="changeme")


COMPOSE_ENV = Path(__file__).parent.parent / "deploy" / "compose.env.example"


def test_the_compose_example_does_not_start_with_its_own_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Copied unchanged, the example must not give a working admin key or database password.
    lines = COMPOSE_ENV.read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    monkeypatch.setenv("MCP_PDP_BOOTSTRAP_ADMIN_KEY", example["MCP_PDP_BOOTSTRAP_ADMIN_KEY"])
    with pytest.raises(ValueError, match="bootstrap_admin_key"):
        Settings()
    monkeypatch.delenv("MCP_PDP_BOOTSTRAP_ADMIN_KEY")
    password = example["POSTGRES_PASSWORD"]
    monkeypatch.setenv("MCP_PDP_DATABASE_URL", f"postgresql+psycopg://pdp:{password}@db:5432/pdp")
    if password:  # empty: `docker compose` itself refuses to start (`${…:?…}`)
        with pytest.raises(ValueError, match="placeholder"):
            Settings()


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-admin-key",
        "CHANGEME_0123456789abcdefghijklmnopqrstuvwxyz",
        "please-change_me-0123456789abcdefghijkl",
        "replace-with-32-or-more-random-characters",
        "<placeholder: 32 or more random characters>",
    ],
)
def test_placeholder_admin_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="bootstrap_admin_key looks like a placeholder"):
        Settings(bootstrap_admin_key=key)


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("database_url", "postgresql+psycopg://pdp:change-me@db:5432/pdp"),
        ("redis_url", "redis://:CHANGEME@redis:6379/0"),
    ],
)
def test_placeholder_password_in_a_url_is_refused(name: str, url: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: its password looks like a placeholder"):
        Settings(**{name: url})
    # A real password, and no password, are fine.
    Settings(**{name: url.replace("change-me", "Xk4v9qPz").replace("CHANGEME", "Xk4v9qPz")})


async def test_key_is_shown_once_and_stored_hashed(
    admin: httpx.AsyncClient, database_url: str
) -> None:
    created = await make_key(admin, "admin")
    assert re.fullmatch(r"mcppdp_[0-9a-f]{16}_[A-Za-z0-9_\-]{43}", created["key"])
    assert created["id"] in created["key"]
    secret = created["key"].split("_", 2)[2]
    listed = (await admin.get("/admin/v1/keys")).json()
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).mappings().all()
        audit = conn.execute(text("SELECT before, after FROM audit_log")).all()
    engine.dispose()
    row = next(r for r in stored if r["id"] == created["id"])
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    everything = repr(stored) + repr(audit)
    assert secret not in everything and ADMIN_KEY not in everything
    # The new key works for admin routes.
    response = await admin.get("/admin/v1/roles", headers=bearer(created["key"]))
    assert response.status_code == 200


async def test_deleted_key_is_refused_at_once(admin: httpx.AsyncClient) -> None:
    created = await make_key(admin, "admin")
    assert (await admin.get("/admin/v1/keys", headers=bearer(created["key"]))).status_code == 200
    assert (await admin.delete(f"/admin/v1/keys/{created['id']}")).status_code == 204
    assert (await admin.get("/admin/v1/keys", headers=bearer(created["key"]))).status_code == 401
    assert (await admin.delete(f"/admin/v1/keys/{created['id']}")).status_code == 404


async def test_key_body_is_validated(admin: httpx.AsyncClient) -> None:
    for body in [
        {"name": "x", "scope": "root"},
        {"name": "", "scope": "decide"},
        {"name": "x" * 129, "scope": "decide"},
        {"scope": "decide"},
        {"name": "x", "scope": "decide", "secret": "mine"},
    ]:
        response = await admin.post("/admin/v1/keys", json=body)
        assert response.status_code == 422, body


async def test_bootstrap_key_survives_restart_and_rotates(database_url: str) -> None:
    from tests.conftest import load_demo

    await load_demo(database_url)
    first, second = ADMIN_KEY, ADMIN_KEY.upper()
    for _ in range(2):  # starting twice with the same key changes nothing
        async with app_client(demo_settings(database_url, bootstrap_admin_key=first)) as http:
            assert (await http.get("/admin/v1/roles", headers=bearer(first))).status_code == 200
    async with app_client(demo_settings(database_url, bootstrap_admin_key=second)) as http:
        assert (await http.get("/admin/v1/roles", headers=bearer(first))).status_code == 401
        assert (await http.get("/admin/v1/roles", headers=bearer(second))).status_code == 200
        audit = (await http.get("/admin/v1/audit", headers=bearer(second))).json()["entries"]
    assert [e["action"] for e in audit if e["actor"] == "settings"] == ["key.bootstrap"] * 2


async def refused_soon(http: httpx.AsyncClient, key: str) -> bool:
    """Whether `key` gets 401 within a few seconds (a running worker hears of a revoke)."""
    for _ in range(100):
        if (await http.get("/admin/v1/roles", headers=bearer(key))).status_code == 401:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_bootstrap_key_removed_from_settings_stops_working(database_url: str) -> None:
    from service.store.keys import key_digest
    from tests.conftest import load_demo

    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY)
    async with app_client(settings) as first:
        other = await make_key(first, "admin", headers=bearer(ADMIN_KEY))
    async with app_client(settings) as running:
        assert (await running.get("/admin/v1/roles", headers=bearer(ADMIN_KEY))).status_code == 200
        feed = running.app.state.runtime.changes  # type: ignore[attr-defined]
        # On PostgreSQL this replica now keeps the caller in memory, until a notice.
        assert feed.caller(key_digest(ADMIN_KEY)) is not None or not feed.live
        # A replica restarted without the setting revokes the key for every replica.
        async with app_client(demo_settings(database_url)) as restarted:
            response = await restarted.get("/admin/v1/roles", headers=bearer(ADMIN_KEY))
            assert response.status_code == 401
            assert await refused_soon(running, ADMIN_KEY)
            # Keys made through the API are not the settings' to revoke.
            ops = bearer(other["key"])
            assert (await restarted.get("/admin/v1/roles", headers=ops)).status_code == 200
            audit = (await restarted.get("/admin/v1/audit", headers=ops)).json()["entries"]
    by_settings = [(e["action"], e["target"]) for e in audit if e["actor"] == "settings"]
    assert by_settings == [("key.delete", "bootstrap"), ("key.bootstrap", "bootstrap")]


async def test_bootstrap_key_changed_to_another_id_retires_the_old_one(database_url: str) -> None:
    from tests.conftest import load_demo

    await load_demo(database_url)
    first, second = ADMIN_KEY, "mcppdp_0123456789abcdef_" + "s" * 40
    async with app_client(demo_settings(database_url, bootstrap_admin_key=first)):
        pass
    async with app_client(demo_settings(database_url, bootstrap_admin_key=second)) as http:
        assert (await http.get("/admin/v1/roles", headers=bearer(first))).status_code == 401
        assert (await http.get("/admin/v1/roles", headers=bearer(second))).status_code == 200


async def test_serve_does_not_count_a_bootstrap_key_it_will_revoke(database_url: str) -> None:
    from service.cli.common import in_session
    from service.store.keys import count_keys
    from tests.conftest import load_demo

    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY)
    async with app_client(settings):
        pass
    assert await in_session(settings, lambda s: count_keys(session=s)) == 1
    # `mcp-pdp serve` warns about having no key from this count.
    assert await in_session(settings, lambda s: count_keys(session=s, lasting=True)) == 0


async def test_replicas_starting_without_the_key_revoke_it_once(database_url: str) -> None:
    from tests.conftest import load_demo

    await load_demo(database_url)
    async with app_client(demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY)) as http:
        ops = (await make_key(http, "admin", headers=bearer(ADMIN_KEY)))["key"]
    async with AsyncExitStack() as replicas:
        started = await asyncio.gather(
            *(replicas.enter_async_context(app_client(demo_settings(database_url))) for _ in "abc")
        )
        assert (
            await started[0].get("/admin/v1/roles", headers=bearer(ADMIN_KEY))
        ).status_code == 401
        audit = (await started[1].get("/admin/v1/audit", headers=bearer(ops))).json()["entries"]
    assert [e["action"] for e in audit if e["actor"] == "settings"] == [
        "key.delete",
        "key.bootstrap",
    ]


async def test_a_database_away_at_start_delays_the_revoke(postgres_database: str) -> None:
    from tests.conftest import clean_database, load_demo
    from tests.server import free_port
    from tests.test_observability import Proxy, through

    clean_database(postgres_database)
    await load_demo(postgres_database)
    async with app_client(demo_settings(postgres_database, bootstrap_admin_key=ADMIN_KEY)):
        pass
    proxy = Proxy(free_port())  # not started: the database is away at start-up
    url = through(postgres_database, proxy.port)
    async with app_client(demo_settings(url, db_timeout_seconds=1.0)) as http:
        await proxy.start()
        assert await refused_soon(http, ADMIN_KEY)
    await proxy.stop()


async def test_key_store_down_is_a_deny_not_an_error(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from service.api import auth
    from tests.conftest import load_demo

    async def unreachable(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    await load_demo(database_url)
    settings = demo_settings(database_url, require_caller_key=True)
    async with app_client(settings) as http:
        monkeypatch.setattr(auth, "authenticate", unreachable)
        body = decision_body(tool="docs___search", arguments={"query": "q"})
        response = await http.post("/v1/decisions", json=body, headers=bearer("any-key"))
        assert response.status_code == 200
        assert (response.json()["decision"], response.json()["code"]) == (
            "deny",
            "store_unavailable",
        )
        admin_call = await http.get("/admin/v1/roles", headers=bearer("any-key"))
        assert admin_call.status_code == 503
