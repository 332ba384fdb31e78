"""Tool schemas as real Python MCP servers emit them, read over MCP, decided on.

Two servers run as processes on loopback (tests/live_mcp_servers.py): one on
FastMCP, one on the official SDK's low-level `Server`. Their `tools/list` is
read with the official SDK client, registered through the admin API, and a
policy set reading every kind of argument decides calls through `/v1/decisions`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from service.cli.main import main
from service.settings import Settings
from tests.conftest import ADMIN_KEY, POLICY_DIR, app_client, clean_database
from tests.server import free_port

POLICIES = """
// Optional[str] is an optional String; an absent `limit` reads as its default.
@id("search")
permit (principal, action == Mcp::Action::"shop___search", resource)
when {
  context.input.limit <= 50 &&
  !(context.input has note && context.input.note == "secret")
};

// Literal: enum and const are Strings; `mode` is filled with its default.
@id("pay")
permit (principal, action == Mcp::Action::"shop___pay", resource)
when {
  context.input.currency == "EUR" &&
  context.input.mode == "card" &&
  context.input.amount < 500
};

// list[Model] is a Set of records; a nested model is a record.
@id("order")
permit (principal, action == Mcp::Action::"shop___place_order", resource)
when {
  context.input.ship_to.city == "Berlin" &&
  !context.input.lines.contains({sku: "GUN", qty: 1, gift: false})
};

// datetime: the raw String, and context.times for comparisons.
@id("schedule")
permit (principal, action == Mcp::Action::"shop___schedule", resource)
when {
  context.input.at like "20*" &&
  context.times.at.datetime < datetime("2100-01-01") &&
  context.times.at.epoch >= context.request.time &&
  !(context.times has until && context.times.until.datetime <= context.times.at.datetime)
};

// dict[str, int]: the keys as a Set, the entries as a Set of {key, value}.
@id("restock")
permit (principal, action == Mcp::Action::"shop___restock", resource)
when {
  ["apples", "pears"].containsAll(context.input.stock.keys) &&
  !context.input.stock.entries.contains({key: "pears", value: 0})
};

// Optional[list[Model]]: an optional Set of records.
@id("find")
permit (principal, action == Mcp::Action::"shop___find", resource)
when {
  !(context.input has filters &&
    context.input.filters.contains({field: "fee", amount: 0}))
};

// A recursive model is unfolded twice: the root and its children are visible.
@id("browse")
permit (principal, action == Mcp::Action::"shop___browse", resource)
when {
  context.input.root.name != "private" &&
  !context.input.root.children.contains({name: "secret"})
};

// tuple[int, int] is a Set<Long>; tuple[str, int] is hidden.
@id("resize")
permit (principal, action == Mcp::Action::"shop___resize", resource)
when { !context.input.size.contains(0) };

// bool and Literal[1, 2, 3].
@id("flag")
permit (principal, action == Mcp::Action::"shop___flag", resource)
when { context.input.enabled && context.input.level < 3 };

// int | str is hidden: the call is decided without it (its value is still checked).
@id("lookup")
permit (principal, action == Mcp::Action::"shop___lookup", resource);

// $ref into $defs, anyOf with null, a date-time and a hidden union.
@id("transfer")
permit (principal, action == Mcp::Action::"bank___transfer", resource)
when {
  context.input.money.currency == "EUR" &&
  context.input.money.amount <= 1000 &&
  context.input.to.iban like "DE*" &&
  !(context.input has memo && context.input.memo like "*bribe*") &&
  !(context.times has when && context.times.when.datetime < datetime("2026-01-01"))
};

// draft-07, $ref into definitions.
@id("tag")
permit (principal, action == Mcp::Action::"bank___tag", resource)
when { !context.input.tags.contains("red") };
"""


def _serve(kind: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.live_mcp_servers", kind, str(port)],
            stdout=out,
            stderr=out,
        )
    return process, f"http://127.0.0.1:{port}/mcp"


async def _list_tools(url: str, process: subprocess.Popen[bytes], log: Path) -> list[Any]:
    """`tools/list` read with the official SDK client, once the server answers."""
    deadline = time.monotonic() + 30
    while True:
        try:
            async with Client(url) as client:
                return list((await client.list_tools()).tools)
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text()) from None
            await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def listed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both servers' tools, named as a gateway names them (`server___tool`)."""
    logs = tmp_path_factory.mktemp("live")
    servers = {kind: _serve(kind, logs / f"{kind}.log") for kind in ("fastmcp", "lowlevel")}
    tools: list[dict[str, Any]] = []
    try:
        for kind, prefix in (("fastmcp", "shop"), ("lowlevel", "bank")):
            process, url = servers[kind]
            for tool in await _list_tools(url, process, logs / f"{kind}.log"):
                entry = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
                entry["name"] = f"{prefix}___{entry['name']}"
                tools.append(entry)
    finally:
        for process, _url in servers.values():
            process.terminate()
            process.wait(timeout=10)
    return {"tools": tools}


@pytest.fixture
def live_policies(tmp_path: Path) -> Path:
    """The stub and a policy set that reads every kind of argument."""
    folder = tmp_path / "live-policies"
    folder.mkdir()
    shutil.copy(POLICY_DIR / "schema.cedarschema", folder)
    (folder / "live.cedar").write_text(POLICIES)
    return folder


@pytest.fixture
async def pdp(
    listed: dict[str, Any], live_policies: Path, sqlite_database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the live servers' tools registered through the admin API."""
    clean_database(sqlite_database)
    settings = Settings(
        database_url=sqlite_database, policy_dir=live_policies, bootstrap_admin_key=ADMIN_KEY
    )
    async with app_client(settings) as http:
        response = await http.put(
            "/admin/v1/tools", json=listed, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert response.status_code == 200, response.text
        yield http


async def _decide(http: httpx.AsyncClient, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body = {"claims": {"sub": "alice"}, "method": "tools/call", "tool": tool}
    response = await http.post("/v1/decisions", json={**body, "arguments": arguments})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# (tool, arguments, expected decision): each kind read by a policy, both ways.
CASES = [
    ("shop___search", {"query": "q"}, "allow"),  # default limit 10
    ("shop___search", {"query": "q", "limit": 100}, "deny"),
    ("shop___search", {"query": "q", "note": None}, "allow"),  # null reads as absent
    ("shop___search", {"query": "q", "note": "secret"}, "deny"),
    ("shop___pay", {"currency": "EUR", "amount": 100}, "allow"),
    ("shop___pay", {"currency": "USD", "amount": 100}, "deny"),
    (
        "shop___place_order",
        {"lines": [{"sku": "A-1", "qty": 2}], "ship_to": {"city": "Berlin"}},
        "allow",
    ),
    (
        "shop___place_order",
        {"lines": [{"sku": "GUN", "qty": 1}], "ship_to": {"city": "Berlin", "zip": "10115"}},
        "deny",
    ),
    ("shop___place_order", {"lines": [], "ship_to": {"city": "Paris"}}, "deny"),
    ("shop___schedule", {"at": "SOON+1"}, "allow"),
    ("shop___schedule", {"at": "SOON-1"}, "deny"),  # in the past
    ("shop___schedule", {"at": "SOON+2", "until": "SOON+1"}, "deny"),
    ("shop___schedule", {"at": "SOON+1", "until": "SOON+2"}, "allow"),
    ("shop___restock", {"stock": {"apples": 3, "pears": 2}}, "allow"),
    ("shop___restock", {"stock": {"apples": 3, "gold": 1}}, "deny"),
    ("shop___restock", {"stock": {"pears": 0}}, "deny"),
    ("shop___find", {}, "allow"),
    ("shop___find", {"filters": [{"field": "amount", "amount": 5}]}, "allow"),
    ("shop___find", {"filters": [{"field": "fee", "amount": 0}]}, "deny"),
    ("shop___browse", {"root": {"name": "docs", "children": [{"name": "a"}]}}, "allow"),
    ("shop___browse", {"root": {"name": "docs", "children": [{"name": "secret"}]}}, "deny"),
    ("shop___browse", {"root": {"name": "private"}}, "deny"),
    (
        "shop___browse",
        {"root": {"name": "docs", "children": [{"name": "a", "children": [{"name": "b"}]}]}},
        "allow",  # the third level is hidden, and still validated
    ),
    ("shop___resize", {"size": [3, 4]}, "allow"),
    ("shop___resize", {"size": [0, 4], "label": ["x", 1]}, "deny"),
    ("shop___resize", {"size": [3, 4], "label": ["x", 1]}, "allow"),
    ("shop___flag", {"enabled": True}, "allow"),
    ("shop___flag", {"enabled": True, "level": 3}, "deny"),
    ("shop___flag", {"enabled": False}, "deny"),
    ("shop___lookup", {"key": 5}, "allow"),
    ("shop___lookup", {"key": "k"}, "allow"),
    (
        "bank___transfer",
        {"money": {"amount": 900, "currency": "EUR"}, "to": {"iban": "DE89370400440532013000"}},
        "allow",
    ),
    (
        "bank___transfer",
        {"money": {"amount": 1900, "currency": "EUR"}, "to": {"iban": "DE89370400440532013000"}},
        "deny",
    ),
    (
        "bank___transfer",
        {
            "money": {"amount": 900, "currency": "EUR"},
            "to": {"iban": "DE89370400440532013000"},
            "memo": "a small bribe",
        },
        "deny",
    ),
    (
        "bank___transfer",
        {
            "money": {"amount": 900, "currency": "EUR"},
            "to": {"iban": "DE89370400440532013000"},
            "memo": None,
            "when": "2025-06-01T12:00:00+02:00",
            "meta": 7,
        },
        "deny",
    ),
    ("bank___tag", {"tags": ["green"]}, "allow"),
    ("bank___tag", {"tags": ["green", "red"]}, "deny"),
]


POLICY_OF = {tool: tool.split("___")[1] for tool, _, _ in CASES} | {"shop___place_order": "order"}


def _with_times(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _soon(int(v[4:])) if isinstance(v, str) and v.startswith("SOON") else v
        for k, v in arguments.items()
    }


async def test_policies_read_every_kind_of_argument(pdp: httpx.AsyncClient) -> None:
    for tool, arguments, expected in CASES:
        answer = await _decide(pdp, tool, _with_times(arguments))
        assert answer["decision"] == expected, (tool, arguments, answer)
        if expected == "allow":
            assert answer["reasons"] == [f"live.cedar#{POLICY_OF[tool]}"], answer
        else:
            assert answer["code"] == "no_policy", (tool, arguments, answer)


# (tool, arguments, the first error): values that do not fit the schema.
INVALID = [
    (
        "shop___find",
        {"filters": [{"field": "amount", "amount": 5000}]},
        "/filters/0/amount: 5000 is greater than the maximum of 1000",
    ),
    ("shop___pay", {"currency": "GBP", "amount": 1}, "/currency: 'GBP' is not one of"),
    ("shop___pay", {"currency": "EUR", "amount": 1, "mode": "cash"}, "/mode: 'card' was expected"),
    (
        "shop___place_order",
        {"lines": [{"sku": "A", "qty": 0}], "ship_to": {"city": "B"}},
        "/lines/0/qty: 0 is less than the minimum of 1",
    ),
    ("shop___place_order", {"lines": []}, "/ship_to: required"),
    ("shop___schedule", {"at": "tomorrow"}, "/at: 'tomorrow' is not a 'date-time'"),
    ("shop___schedule", {"at": "2026-13-01T00:00:00Z"}, "/at: '2026-13-01T00:00:00Z' is not a"),
    ("shop___restock", {"stock": {"apples": "many"}}, "/stock/apples: 'many' is not of type"),
    ("shop___flag", {"enabled": True, "level": 4}, "/level: 4 is not one of [1, 2, 3]"),
    (
        "shop___search",
        {"query": "q", "sudo": True},
        "/sudo: not declared in the tool's inputSchema",
    ),
    ("shop___lookup", {"key": [1]}, "/key: [1] is not valid under any of the given schemas"),
    ("shop___resize", {"size": [1, 2], "label": ["x", "y"]}, "/label"),
    (
        "shop___browse",
        {"root": {"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}},
        "/root/children/0/children/0/name: 3 is not of type 'string'",
    ),
    (
        "bank___transfer",
        {"money": {"amount": 20000, "currency": "EUR"}, "to": {"iban": "DE89ABC"}},
        "/money/amount: 20000 is greater than the maximum of 10000",
    ),
    (
        "bank___transfer",
        {"money": {"amount": 1, "currency": "EUR"}, "to": {"iban": "nope"}},
        "/to/iban: 'nope' does not match",
    ),
    (
        "bank___transfer",
        {"money": {"amount": 1, "currency": "EUR"}, "to": {"iban": "DE89ABC"}, "meta": [1]},
        "/meta: [1] is not valid under any of the given schemas",
    ),
    (
        "bank___transfer",
        {"money": {"amount": 1, "currency": "EUR", "fee": 1}, "to": {"iban": "DE89ABC"}},
        "/money/fee: not declared in the tool's inputSchema",
    ),
    ("bank___tag", {"tags": ["blue"]}, "/tags/0: 'blue' is not one of ['red', 'green']"),
]


async def test_values_that_do_not_fit_the_schema_are_invalid_arguments(
    pdp: httpx.AsyncClient,
) -> None:
    for tool, arguments, error in INVALID:
        answer = await _decide(pdp, tool, arguments)
        assert (answer["decision"], answer["code"]) == ("deny", "invalid_arguments"), answer
        assert answer["errors"][0].startswith(error), (tool, arguments, answer["errors"])


def test_explain_lists_what_policies_cannot_see(
    listed: dict[str, Any], live_policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(listed))
    explained = {}
    for name in ("shop___lookup", "shop___resize", "shop___browse", "bank___transfer"):
        code = main(["schema", str(live_policies), "--tools", str(tools), "--explain", name])
        out, _ = capsys.readouterr()
        assert code == 0, out
        explained[name] = out
    assert (
        "arguments.key: anyOf of several non-null types: hidden from policies"
        in (explained["shop___lookup"])
    )
    assert "arguments.label: tuple (prefixItems) of different types" in explained["shop___resize"]
    assert (
        "arguments.root.children[].children: array items: recursive $ref #/$defs/Folder"
        in (explained["shop___browse"])
    )
    assert "arguments.meta: anyOf of several non-null types" in explained["bank___transfer"]
    assert "value still validated" in explained["bank___transfer"]
    code = main(["schema", str(live_policies), "--tools", str(tools), "--explain", "nope"])
    assert code != 0


def test_the_registry_is_the_servers_own_schemas(listed: dict[str, Any]) -> None:
    # What the servers emit, so the cases above test what Python servers really send.
    schemas = {t["name"]: t["inputSchema"] for t in listed["tools"]}
    assert len(schemas) == 12
    note = schemas["shop___search"]["properties"]["note"]
    assert note["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schemas["shop___browse"]["properties"]["root"] == {"$ref": "#/$defs/Folder"}
    assert "prefixItems" in schemas["shop___resize"]["properties"]["size"]
    assert schemas["shop___schedule"]["properties"]["at"]["format"] == "date-time"
    assert schemas["shop___restock"]["properties"]["stock"]["additionalProperties"] == {
        "type": "integer"
    }
    assert schemas["bank___tag"]["$schema"].startswith("http://json-schema.org/draft-07")


async def test_the_tool_filter_lists_tools_whose_policies_read_these_arguments(
    pdp: httpx.AsyncClient, listed: dict[str, Any]
) -> None:
    # Every tool has a permit some arguments satisfy; context.times is unknown like input.
    body = {"claims": {"sub": "alice"}, "tools": listed["tools"]}
    answer = (await pdp.post("/v1/tools/filter", json=body)).json()
    assert answer["withheld"] == [], answer["details"]
    assert len(answer["tools"]) == len(listed["tools"])
