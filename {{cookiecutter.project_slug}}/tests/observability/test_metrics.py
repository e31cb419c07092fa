"""What the metrics count, in one process: requests by method, route and status with their
durations, the user store's calls, and calls through the shared HTTP client. The counts belong
to the process, so each test compares two scrapes. Several workers: test_workers.py."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.observability.calls import timed_calls
from {{ cookiecutter.package_name }}.resources import Resources
from {{ cookiecutter.package_name }}.settings import Settings
from tests.support import login, served, store_unavailable

TOKEN = "metrics-token-" + "k3Jq9Zt7Wm2Xv5Rb" * 2
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def with_metrics(settings: Settings, **overrides: object) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN), **overrides})


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_requests_are_counted_by_method_route_and_status(settings: Settings) -> None:
    async with served(create_app(with_metrics(settings))) as client:
        before = await scrape(client)
        for _ in range(3):
            assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/no/such/path")).status_code == 404
        assert (await client.request("BREW", "/healthz")).status_code == 405
        assert (await client.delete("/auth/tokens/7")).status_code == 401
        after = await scrape(client)
    requests = "http_requests_total"
    assert grew(before, after, requests, method="GET", route="/healthz", status="200") == 3
    assert grew(before, after, requests, method="GET", route="unmatched", status="404") == 1
    assert grew(before, after, requests, method="OTHER", route="unmatched", status="405") == 1
    route = "/auth/tokens/<int:token_id>"
    assert grew(before, after, requests, method="DELETE", route=route, status="401") == 1
    assert grew(before, after, requests, method="GET", route="/metrics", status="200") == 1
    durations = "http_request_duration_seconds"
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert grew(before, after, f"{durations}_count", **healthz) == 3
    assert grew(before, after, f"{durations}_bucket", **healthz, le="+Inf") == 3
    assert grew(before, after, f"{durations}_sum", **healthz) > 0


async def test_store_calls_are_timed_by_operation_and_outcome(settings: Settings) -> None:
    async with served(create_app(with_metrics(settings))) as client:
        before = await scrape(client)
        assert (await login(client)).status_code == 200
        assert (await client.get("/auth/me")).status_code == 200
        with store_unavailable(settings):
            assert (await client.get("/auth/me")).status_code == 503
        after = await scrape(client)
    calls = "store_call_duration_seconds_count"
    assert grew(before, after, calls, operation="authenticate", outcome="ok") == 1
    assert grew(before, after, calls, operation="start_login", outcome="ok") == 1
    assert grew(before, after, calls, operation="user_for_login", outcome="ok") == 1
    assert grew(before, after, calls, operation="user_for_login", outcome="error") == 1


async def test_upstream_calls_are_timed_by_host_and_status(
    settings: Settings, upstream: str
) -> None:
    up = create_app(with_metrics(settings, upstream_url=f"{upstream}/"))
    down = create_app(with_metrics(settings, upstream_url="http://127.0.0.1:9/"))
    async with served(up) as client, served(down) as failing:
        before = await scrape(client)
        assert (await client.get("/upstream")).status_code == 200
        assert (await failing.get("/upstream")).status_code == 502
        after = await scrape(client)
    calls = "upstream_request_duration_seconds_count"
    host = upstream.removeprefix("http://")
    assert grew(before, after, calls, host=host, status="200") == 1
    assert grew(before, after, calls, host="127.0.0.1:9", status="error") == 1


def test_without_the_token_nothing_is_timed(settings: Settings) -> None:
    resources = Resources.of(create_app(settings))
    assert resources.metrics is None
    assert type(resources.store).__module__.startswith("{{ cookiecutter.package_name }}.users")


async def test_the_timing_wrapper_passes_everything_else_through() -> None:
    seen: list[tuple[str, bool]] = []

    class Thing:
        limit = 3

        async def add(self, a: int, b: int) -> int:
            return a + b

        async def fail(self) -> None:
            raise ValueError("no")

    thing = timed_calls(Thing(), lambda name, ok, seconds: seen.append((name, ok)))
    assert thing.limit == 3
    assert await thing.add(1, 2) == 3
    with pytest.raises(ValueError, match="no"):
        await thing.fail()
    assert seen == [("add", True), ("fail", False)]
