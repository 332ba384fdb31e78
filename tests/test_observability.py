"""Decision log, metrics, readiness and request ids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.engine.errors import DENY_CODES, DecisionError
from service.engine.methods import METHOD_GROUPS, TOOL_CALL
from service.identity.claims import InvalidToken
from service.observability.decision_log import DecisionLog
from service.observability.metrics import Metrics
from tests.conftest import (
    ADMIN_KEY,
    app_client,
    decision_body,
    demo_settings,
    load_demo,
    logged_decisions,
)

FIELDS = {
    "decision_id",
    "time",
    "principal_id",
    "issuer",
    "client_id",
    "method",
    "tool",
    "gateway",
    "decision",
    "code",
    "reasons",
    "shadow",
    "policy_version",
    "cached",
    "latency_us",
    "caller",
    "request_id",
    "argument_names",
    "arguments",
}
REFUND = decision_body(
    claims={
        "sub": "bob",
        "scope": "tools:write",
        "iss": "https://idp.example",
        "client_id": "agent-7",
    },
    tool="payments___refund",
    arguments={"orderId": "ORDER-SECRET-4242", "amount": 450},
)


@pytest.fixture
async def logged(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    await load_demo(database_url)
    settings = demo_settings(
        database_url,
        decision_log_file=tmp_path / "decisions.log",
        log_arguments=["amount"],
        bootstrap_admin_key=ADMIN_KEY,
    )
    async with app_client(settings) as http:
        yield http


async def test_one_record_per_decision_in_file_and_database(
    logged: httpx.AsyncClient, tmp_path: Path
) -> None:
    # The stdout sink is checked on a real server process (test_server_process).
    response = await logged.post("/v1/decisions", json=REFUND, headers={"X-Request-ID": "req-42"})
    body = response.json()
    assert response.headers["x-request-id"] == "req-42"
    rows = await logged_decisions(logged.app)  # type: ignore[attr-defined]
    assert [r["decision_id"] for r in rows] == [body["decision_id"]]
    row = rows[0]
    assert set(row) == FIELDS
    assert row["principal_id"] == "bob"
    assert (row["issuer"], row["client_id"]) == ("https://idp.example", "agent-7")
    assert (row["decision"], row["reasons"]) == ("allow", ["tools.cedar#refunds-under-500"])
    assert row["request_id"] == "req-42"
    assert row["policy_version"] == body["policy_version"]
    assert row["argument_names"] == ["amount", "orderId"]
    assert row["arguments"] == {"amount": 450}  # only the names listed in log_arguments
    file_lines = (tmp_path / "decisions.log").read_text().splitlines()
    assert [json.loads(line)["decision_id"] for line in file_lines] == [body["decision_id"]]


async def test_admin_query_of_the_decision_log(logged: httpx.AsyncClient) -> None:
    for sub in ("alice", "bob", "alice"):
        await logged.post(
            "/v1/decisions", json=decision_body(claims={"sub": sub}, method="tools/list")
        )
    await logged.app.state.runtime.decision_log.flush()  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    page = (await logged.get("/admin/v1/decisions?principal=alice&limit=1", headers=admin)).json()
    assert len(page["decisions"]) == 1 and page["next_cursor"]
    older = await logged.get(
        f"/admin/v1/decisions?principal=alice&limit=1&cursor={page['next_cursor']}", headers=admin
    )
    assert older.json()["decisions"][0]["principal_id"] == "alice"
    assert older.json()["decisions"][0]["decision_id"] < page["decisions"][0]["decision_id"]
    assert (await logged.get("/admin/v1/decisions")).status_code == 401
    assert (
        await logged.get("/admin/v1/decisions?decision=maybe", headers=admin)
    ).status_code == 422


async def test_secrets_never_reach_any_log(
    capfd: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    await load_demo(database_url)
    log_file = tmp_path / "decisions.log"
    settings = demo_settings(
        database_url,
        decision_log_file=log_file,
        bootstrap_admin_key=ADMIN_KEY,
        require_caller_key=True,
        log_level="DEBUG",
    )
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.U0VDUkVULVNJR05BVFVSRQ"
    async with app_client(settings) as http:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        created = await http.post(
            "/admin/v1/keys",
            json={"name": "gw", "scope": "decide", "trusted_claims": True},
            headers=admin,
        )
        key = created.json()["key"]
        caller = {"Authorization": f"Bearer {key}"}
        await http.post(
            "/v1/decisions", json={"token": token, "method": "tools/list"}, headers=caller
        )
        await http.post("/v1/decisions", json=REFUND, headers=caller)
        await http.post("/v1/decisions", json=REFUND, headers={"Authorization": "Bearer wrong-key"})
        rows = await logged_decisions(http.app)  # type: ignore[attr-defined]
    captured = capfd.readouterr()
    everything = "\n".join(
        [captured.out, captured.err, log_file.read_text(), json.dumps(rows, default=str)]
    )
    assert len(rows) == 2
    for secret in (token, token.split(".")[2], key, ADMIN_KEY, "ORDER-SECRET-4242", "wrong-key"):
        assert secret not in everything, secret


async def test_metrics_parse_and_move(client: httpx.AsyncClient) -> None:
    def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    before = samples((await client.get("/metrics")).text)
    await client.post(
        "/v1/decisions", json=decision_body(tool="docs___search", arguments={"query": "q"})
    )
    await client.post("/v1/decisions", json=decision_body(method="nope/nope"))
    after = samples((await client.get("/metrics")).text)
    allow = (
        "mcp_pdp_decisions_total",
        (("code", ""), ("decision", "allow"), ("method", "tools/call")),
    )
    unknown = (
        "mcp_pdp_decisions_total",
        (("code", "unknown_method"), ("decision", "deny"), ("method", "other")),
    )
    assert after[allow] == before.get(allow, 0) + 1
    assert after[unknown] == before.get(unknown, 0) + 1
    count = ("mcp_pdp_decision_latency_seconds_count", ())
    assert after[count] == before[count] + 2
    assert after[("mcp_pdp_policy_reloads_total", (("result", "ok"),))] >= 1
    version = client.app.state.runtime.policies.current.version  # type: ignore[attr-defined]
    assert after[("mcp_pdp_policy_active", (("version", version),))] == 1


def label_values(text: str) -> dict[str, set[str]]:
    """Every value each label takes across the exposition."""
    values: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, value in sample.labels.items():
                values.setdefault(name, set()).add(value)
    return values


async def test_caller_chosen_methods_do_not_grow_the_metrics(client: httpx.AsyncClient) -> None:
    # Each unknown method used to become a label value of its own: /metrics grew without end.
    for start in range(0, 2000, 100):
        requests = [{"method": f"made/up/{n}"} for n in range(start, start + 100)]
        response = await client.post(
            "/v1/decisions/batch", json={"claims": {"sub": "alice"}, "requests": requests}
        )
        assert response.status_code == 200
        assert {d["code"] for d in response.json()["decisions"]} == {"unknown_method"}
    await client.post("/v1/decisions", json=decision_body(method="made/up/single"))
    await client.post("/v1/decisions", json=decision_body(method="tools/list"))
    methods = label_values((await client.get("/metrics")).text)["method"]
    assert methods <= {*METHOD_GROUPS, TOOL_CALL, "other"}
    assert {"other", "tools/list"} <= methods


def test_every_deny_code_is_a_known_label_value() -> None:
    def subclasses(cls: type[DecisionError]) -> list[type[DecisionError]]:
        return [cls, *(s for c in cls.__subclasses__() for s in subclasses(c))]

    classes = subclasses(DecisionError)
    assert InvalidToken in classes  # errors defined outside the engine are found too
    assert {cls.code for cls in classes} <= DENY_CODES


async def test_full_queue_drops_and_counts_instead_of_waiting() -> None:
    metrics = Metrics()
    log = DecisionLog(
        metrics=metrics,
        queue_size=2,
        stdout=False,
        file=None,
        file_max_bytes=1024,
        file_backups=0,
        sessions=None,
        retention_days=1,
    )  # not started: nothing drains the queue
    for i in range(5):
        log.record({"decision_id": str(i)})
    dropped = metrics.log_dropped.labels(sink="all", reason="queue_full")
    assert dropped._value.get() == 3  # type: ignore[attr-defined]


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.headers["x-request-id"] != "bad id\twith spaces"
    assert len(made.headers["x-request-id"]) == 32


class Proxy:
    """A TCP proxy on loopback to PostgreSQL that the test can stop and start."""

    def __init__(self, port: int, target: int = 5432) -> None:
        self.port, self.target = port, target
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.close()
        await self.server.wait_closed()
        self.links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def through(url: str, port: int) -> str:
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


async def test_readyz_follows_the_database(postgres_database: str) -> None:
    from tests.conftest import clean_database
    from tests.server import free_port

    clean_database(postgres_database)
    await load_demo(postgres_database)
    proxy = Proxy(free_port())
    await proxy.start()
    settings = demo_settings(through(postgres_database, proxy.port), db_timeout_seconds=1.0)
    async with app_client(settings) as http:
        assert (await http.get("/readyz")).status_code == 200
        await proxy.stop()
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json()["checks"]["database"].startswith("unreachable")
        denied = await http.post(
            "/v1/decisions", json=decision_body(tool="docs___search", arguments={"query": "q"})
        )
        assert (denied.json()["decision"], denied.json()["code"]) == ("deny", "store_unavailable")
        await proxy.start()
        assert (await http.get("/readyz")).status_code == 200
    await proxy.stop()


async def test_readyz_waits_for_a_first_policy_set(postgres_database: str) -> None:
    from tests.conftest import clean_database
    from tests.server import free_port

    clean_database(postgres_database)
    await load_demo(postgres_database)
    proxy = Proxy(free_port())  # not started: the database is away at start-up
    settings = demo_settings(
        through(postgres_database, proxy.port), db_timeout_seconds=1.0, policy_poll_seconds=0.1
    )
    async with app_client(settings) as http:
        waiting = await http.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["checks"]["policies"].startswith("not loaded")
        body = (await http.post("/v1/decisions", json=decision_body(method="tools/list"))).json()
        assert body["decision"] == "deny"
        await proxy.start()
        for _ in range(100):
            if (await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await http.get("/readyz")).status_code == 200
        body = (await http.post("/v1/decisions", json=decision_body(method="tools/list"))).json()
        assert body["decision"] == "allow"
    await proxy.stop()
