"""Decision log sinks lose only the record they cannot write, and count it.

A record the edge would refuse today can still be queued (written by an older
edge, or a token claim); it must not take the other decisions of its batch
along, and `GET /admin/v1/decisions` must answer for rows stored before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from service.decide.service import new_decision_id
from service.observability.decision_log import DecisionLog
from service.observability.metrics import Metrics
from service.store.db import create_engine, session_factory
from service.store.models import DecisionLogRow
from tests.conftest import (
    ADMIN_KEY,
    Records,
    app_client,
    decision_body,
    demo_settings,
    load_demo,
    logged_decisions,
)

SECRET = "ORDER-SECRET-4242"


@pytest.fixture
async def logged(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await load_demo(database_url)
    settings = demo_settings(database_url, bootstrap_admin_key=ADMIN_KEY, decision_log_stdout=False)
    async with app_client(settings) as http:
        http.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield http


@pytest.fixture
def warnings() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("mcp_pdp.decision_log")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _dropped(text: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mcp_pdp_decision_log_dropped_total"
    }


async def _template(http: httpx.AsyncClient) -> dict[str, Any]:
    """A record as the service writes it, from one real decision."""
    body = decision_body(tool="docs___search", arguments={"query": "q"})
    assert (await http.post("/v1/decisions", json=body)).status_code == 200
    (row,) = await logged_decisions(http.app)  # type: ignore[attr-defined]
    return {**row, "time": row["time"].isoformat()}


def _records(template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    return [{**template, "decision_id": new_decision_id()} for _ in range(count)]


BAD = {
    # PostgreSQL refuses NUL in text (a DataError); SQLite stores it.
    "nul_tool": ({"tool": "docs\x00search"}, {"postgresql": 1, "sqlite": 0}),
    # Neither driver can encode a lone surrogate (UnicodeEncodeError).
    "surrogate_sub": ({"principal_id": "eve\udead"}, {"postgresql": 1, "sqlite": 1}),
}


@pytest.mark.parametrize("bad", list(BAD))
async def test_one_bad_record_loses_only_itself(
    logged: httpx.AsyncClient, warnings: Records, bad: str
) -> None:
    app: Any = logged.app  # type: ignore[attr-defined]
    template = await _template(logged)
    before = sum(_dropped((await logged.get("/metrics")).text).values())
    fields, lost = BAD[bad]
    good = _records(template, 30)
    broken = {**template, **fields, "decision_id": new_decision_id()}
    broken["arguments"] = {"orderId": SECRET}
    log: DecisionLog = app.state.runtime.decision_log
    for record in [*good[:15], broken, *good[15:]]:  # queued at once: one batch
        log.record(record)
    rows = await logged_decisions(app)
    stored = {r["decision_id"] for r in rows}
    assert {r["decision_id"] for r in good} <= stored
    expected = lost[app.state.runtime.database.dialect.name]
    assert (broken["decision_id"] not in stored) == bool(expected)
    dropped = _dropped((await logged.get("/metrics")).text)
    assert sum(dropped.values()) - before == expected
    if expected:
        assert dropped[(("reason", "unwritable"), ("sink", "database"))] == 1
        messages = [r.getMessage() for r in warnings.records]
        assert any(broken["decision_id"] in m for m in messages), messages
        assert not any(SECRET in m or "eve" in m for m in messages), messages


async def test_listing_answers_for_rows_that_cannot_be_serialised(
    logged: httpx.AsyncClient,
) -> None:
    app: Any = logged.app  # type: ignore[attr-defined]
    template = await _template(logged)
    row = {
        **template,
        "decision_id": new_decision_id(),
        "time": datetime.now(UTC),
        "argument_names": ["\udead", "query"],
        "arguments": {"\udead": "x\ud800y"},
        "reasons": ["tools.cedar#\udfff"],
    }
    async with app.state.runtime.sessions() as session, session.begin():
        await session.execute(insert(DecisionLogRow).values(row))
    response = await logged.get("/admin/v1/decisions")
    assert response.status_code == 200, response.text
    listed = {d["decision_id"]: d for d in response.json()["decisions"]}
    assert listed[row["decision_id"]]["argument_names"] == ["\ufffd", "query"]
    assert listed[row["decision_id"]]["arguments"] == {"\ufffd": "x\ufffdy"}
    assert listed[row["decision_id"]]["reasons"] == ["tools.cedar#\ufffd"]
    assert listed[template["decision_id"]]["argument_names"] == ["query"]


def _log(metrics: Metrics, **sinks: Any) -> DecisionLog:
    options: dict[str, Any] = {"stdout": False, "file": None, "sessions": None, **sinks}
    return DecisionLog(
        metrics=metrics,
        queue_size=100,
        file_max_bytes=1 << 20,
        file_backups=0,
        retention_days=1,
        **options,
    )


async def test_file_sink_writes_every_record_it_can_serialise(
    tmp_path: Path, warnings: Records
) -> None:
    metrics = Metrics()
    log = _log(metrics, file=tmp_path / "decisions.log")
    circular: dict[str, Any] = {"decision_id": "bad", "arguments": {"secret": SECRET}}
    circular["arguments"]["self"] = circular
    log.start()
    try:
        for record in ({"decision_id": "a"}, circular, {"decision_id": "b"}):
            log.record(record)
        await log.flush()
    finally:
        await log.stop()
    lines = (tmp_path / "decisions.log").read_text().splitlines()
    assert [json.loads(line)["decision_id"] for line in lines] == ["a", "b"]
    assert _dropped(metrics.render().decode()) == {(("reason", "unwritable"), ("sink", "file")): 1}
    assert not any(SECRET in r.getMessage() for r in warnings.records)


async def test_database_away_drops_the_batch_once_and_counts_it(warnings: Records) -> None:
    # Nothing listens on port 9: every write fails to connect, so no record is to blame.
    engine = create_engine("postgresql://postgres@127.0.0.1:9/none", timeout_seconds=1)
    metrics = Metrics()
    log = _log(metrics, sessions=session_factory(engine))
    log.start()
    try:
        for index in range(5):
            log.record({"decision_id": str(index), "time": datetime.now(UTC).isoformat()})
        await log.flush()
    finally:
        await log.stop()
        await engine.dispose()
    dropped = _dropped(metrics.render().decode())
    assert dropped == {(("reason", "unavailable"), ("sink", "database")): 5}
    assert len([r for r in warnings.records if r.levelno == logging.WARNING]) == 1
