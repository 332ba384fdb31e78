"""The decision fast path answers exactly as the route does, and hands every error to the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from service.api import auth, json_body
from service.api.middleware import fast_path
from service.api.middleware.fast_path import DecisionFastPath
from service.app import create_app
from tests.conftest import ADMIN_KEY, demo_settings, load_demo

CALL = {"method": "tools/call", "tool": "docs___search", "arguments": {"query": "q"}}
JSON = {"content-type": "application/json"}


async def _client(settings: Any, *, fast: bool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DecisionFastPath]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pdp") as http:
            yield http


@pytest.fixture
async def pair(
    database_url: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, str]]:
    """The app with and without the fast path, caller keys required; and a trusted key."""
    await load_demo(database_url)
    settings = demo_settings(
        database_url, bootstrap_admin_key=ADMIN_KEY, require_caller_key=True, cache_enabled=False
    )
    fast_client = _client(settings, fast=True)
    fast = await anext(fast_client)
    slow_client = _client(settings, fast=False)
    slow = await anext(slow_client)
    made = await fast.post(
        "/admin/v1/keys",
        json={"name": "gw", "scope": "decide", "trusted_claims": True},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    try:
        yield fast, slow, made.json()["key"]
    finally:
        for generator in (fast_client, slow_client):
            with pytest.raises(StopAsyncIteration):
                await anext(generator)


def _cases(key: str) -> list[tuple[dict[str, str], bytes]]:
    import json

    good = json.dumps({"claims": {"sub": "alice"}, **CALL}).encode()
    bearer = {"Authorization": f"Bearer {key}", **JSON}
    return [
        (bearer, good),  # allowed
        (bearer, json.dumps({"claims": {"sub": "bob"}, **CALL}).encode()),  # denied
        (bearer, good[:-3]),  # malformed JSON
        (bearer, b""),  # no body
        (bearer, json.dumps({"claims": {"sub": "alice"}, "method": 7}).encode()),  # bad field
        (bearer, json.dumps({"claims": {"sub": "alice"}, **CALL, "extra": 1}).encode()),
        (JSON, good),  # no key
        ({"Authorization": "Bearer mcppdp_0123456789abcdef_" + "x" * 43, **JSON}, good),
        ({"Authorization": f"Bearer {ADMIN_KEY}", **JSON}, good),  # admin key: not trusted
        ({"Authorization": f"Bearer {key}", "content-type": "text/plain"}, good),
        ({"Authorization": f"Bearer {key}"}, good),  # no content type
        ({"Authorization": f"Bearer {key}", "content-type": "application/ld+json"}, good),
        (bearer, json.dumps({"claims": {"sub": "alice\u0000"}, **CALL}).encode()),  # NUL
        (bearer, good[:-1] + b', "tool": "hr___get_salary"}'),  # a duplicate key
    ]


def _comparable(response: httpx.Response) -> tuple[int, Any, str | None]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        body.pop("decision_id", None)  # new for every decision
    return response.status_code, body, response.headers.get("content-type")


async def test_every_answer_equals_the_route_answer(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient, str],
) -> None:
    fast, slow, key = pair
    for headers, body in _cases(key):
        expected = await slow.post("/v1/decisions", content=body, headers=headers)
        got = await fast.post("/v1/decisions", content=body, headers=headers)
        assert _comparable(got) == _comparable(expected), (headers, body)
        assert got.headers["x-request-id"]
        assert got.headers.get("www-authenticate") == expected.headers.get("www-authenticate")


async def test_only_valid_requests_from_good_callers_take_it(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _slow, key = pair
    calls: list[int] = []
    original = fast_path.answer

    async def counting(*args: Any) -> bytes:
        answer = await original(*args)  # raises for a refused key: then the app answers
        calls.append(1)
        return answer

    monkeypatch.setattr(fast_path, "answer", counting)
    answered_here = []
    for index, (headers, body) in enumerate(_cases(key)):
        before = len(calls)
        await fast.post("/v1/decisions", content=body, headers=headers)
        if len(calls) > before:
            answered_here.append(index)
    # Answered here: the valid JSON bodies from the trusted key, `application/ld+json` too;
    # not a NUL or a duplicate key, which the route refuses with a 422.
    assert answered_here == [0, 1, 11]


async def test_what_the_fast_path_found_is_not_done_again(
    pair: tuple[httpx.AsyncClient, httpx.AsyncClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request handed to the app is neither parsed nor authenticated a second time."""
    fast, _slow, key = pair
    parses: list[int] = []
    lookups: list[int] = []
    loads, authenticate = json_body.loads, auth.authenticate

    def counting_loads(body: bytes) -> Any:
        parses.append(1)
        return loads(body)

    async def counting_authenticate(**kwargs: Any) -> Any:
        lookups.append(1)
        return await authenticate(**kwargs)

    monkeypatch.setattr(json_body, "loads", counting_loads)
    monkeypatch.setattr(auth, "authenticate", counting_authenticate)
    for index, (headers, body) in enumerate(_cases(key)):
        parses.clear()
        lookups.clear()
        response = await fast.post("/v1/decisions", content=body, headers=headers)
        assert response.status_code in (200, 401, 403, 422), (index, response.text)
        assert len(parses) <= 1, (index, response.status_code)
        assert len(lookups) <= 1, (index, response.status_code)
