"""The Graph connector against the stand-in over real HTTP: paging, faults, Retry-After, tokens, $batch."""

from __future__ import annotations

import email.utils
import threading
import time

import pytest

from inventory_sync.adapters.graph.client import (
    GraphClient,
    RetryPolicy,
    RunPacing,
    ThrottleGate,
    parse_retry_after,
)
from inventory_sync.adapters.graph.credentials import ClientSecretCredential
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.adapters.graph.reader import read_pages
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.registry import BY_KEY
from invsync_dev.local.graph_standin import Fault, large_counts

SECRET = "graph-test-secret-value"


@pytest.fixture
def tenant(graph):
    gid = f"t{time.monotonic_ns()}.onmicrosoft.com"
    graph.add_tenant(gid, "cid", SECRET, counts={**large_counts(2350), "mobileApp": 10, "policySet": 45,
                                                  "termsAndConditions": 3, "roleScopeTag": 4})
    return gid


def _client(graph, gid, **kwargs) -> tuple[GraphClient, TokenProvider]:
    tokens = TokenProvider(graph.base_url, graph.base_url)
    credential = ClientSecretCredential(SECRET)
    client = GraphClient(graph.base_url, lambda force: tokens.token(gid, "cid", credential, force_refresh=force),
                         **kwargs)
    return client, tokens


def test_pages_are_followed_to_the_end(graph, tenant) -> None:
    client, tokens = _client(graph, tenant)
    pages = list(read_pages(client, BY_KEY["deviceConfiguration"], include_dependencies=True))
    ids = [item["id"] for page in pages for item in page]
    assert len(pages) == 24 and len(ids) == 2350 and len(set(ids)) == 2350
    assert all("assignments" in item for page in pages for item in page)
    assert tokens.requests == 1  # one token for all 24 pages


def test_builtin_scope_tag_is_filtered(graph, tenant) -> None:
    client, _ = _client(graph, tenant)
    tags = [i for page in read_pages(client, BY_KEY["roleScopeTag"], True) for i in page]
    assert len(tags) == 3 and not any(t["isBuiltIn"] for t in tags)


def test_batch_assignments_for_types_without_expand(graph, tenant) -> None:
    client, _ = _client(graph, tenant)
    before = graph.count("batch_requests")
    items = [i for page in read_pages(client, BY_KEY["policySet"], True) for i in page]
    assert len(items) == 45 and all(item["assignments"] for item in items)
    assert graph.count("batch_requests") - before == 3  # 45 items in batches of at most 20
    terms = [i for page in read_pages(client, BY_KEY["termsAndConditions"], True) for i in page]
    assert all("assignments" in t for t in terms)


@pytest.mark.parametrize(("fault", "code"), [
    (Fault(status=403), ErrorCode.GRAPH_FORBIDDEN),
    (Fault(status=404), ErrorCode.GRAPH_NOT_FOUND),
    (Fault(status=400), ErrorCode.GRAPH_NOT_FOUND),
    (Fault(status=429, retry_after="0"), ErrorCode.GRAPH_THROTTLED),
    (Fault(status=500), ErrorCode.GRAPH_UNAVAILABLE),
    (Fault(status=503, retry_after="0"), ErrorCode.GRAPH_UNAVAILABLE),
    (Fault(status=504, retry_after="0"), ErrorCode.GRAPH_UNAVAILABLE),
    (Fault(malformed=True), ErrorCode.GRAPH_INVALID_RESPONSE),
])
def test_each_fault_class_maps_to_its_code(graph, tenant, fault, code) -> None:
    graph.set_fault("mobileApp", fault)
    client, _ = _client(graph, tenant, policy=RetryPolicy(max_attempts=3, base_delay=0.01))
    with pytest.raises(GraphError) as info:
        list(read_pages(client, BY_KEY["mobileApp"], True))
    assert info.value.code == code
    assert info.value.request_id  # kept for the error context
    if not fault.malformed and (fault.status >= 500 or fault.status == 429):
        assert client.stats.requests == 3  # retried, bounded


def test_transient_errors_are_retried_until_success(graph, tenant) -> None:
    graph.set_fault("mobileApp", Fault(status=500, times=2))
    client, _ = _client(graph, tenant, policy=RetryPolicy(max_attempts=4, base_delay=0.01))
    items = [i for page in read_pages(client, BY_KEY["mobileApp"], True) for i in page]
    assert len(items) == 10 and client.stats.retries == 2


def test_retry_after_is_honoured_and_observed(graph, tenant) -> None:
    graph.set_fault("mobileApp", Fault(status=429, times=2, retry_after="1"))
    client, _ = _client(graph, tenant)
    started = time.monotonic()
    items = [i for page in read_pages(client, BY_KEY["mobileApp"], True) for i in page]
    elapsed = time.monotonic() - started
    assert len(items) == 10
    assert client.stats.throttled == 2
    assert elapsed >= 2.0 and client.stats.waited_seconds >= 2.0


def test_a_429_slows_every_worker_of_the_tenant(graph, tenant) -> None:
    gate = ThrottleGate()
    graph.set_fault("mobileApp", Fault(status=429, times=1, retry_after="1"))
    first, _ = _client(graph, tenant, pacing=RunPacing(gate=gate))
    second, _ = _client(graph, tenant, pacing=RunPacing(gate=gate))
    throttled = threading.Thread(target=lambda: list(read_pages(first, BY_KEY["mobileApp"], True)))
    throttled.start()
    while first.stats.throttled == 0:
        time.sleep(0.01)
    started = time.monotonic()
    list(read_pages(second, BY_KEY["termsAndConditions"], False))  # another type, never throttled itself
    throttled.join()
    assert time.monotonic() - started >= 0.8
    assert second.stats.waited_seconds >= 0.8


def test_retry_after_formats() -> None:
    assert parse_retry_after("7", 1.0) == 7.0
    assert parse_retry_after(None, 3.0) == 3.0
    assert parse_retry_after("soon", 2.0) == 2.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= parse_retry_after(future, 1.0) <= 31


def test_wait_past_the_deadline_is_refused(graph, tenant) -> None:
    from inventory_sync.adapters.graph.errors import DeadlineReached

    graph.set_fault("mobileApp", Fault(status=429, retry_after="60"))
    client, _ = _client(graph, tenant, deadline=lambda: 5.0)
    started = time.monotonic()
    with pytest.raises(DeadlineReached):
        list(read_pages(client, BY_KEY["mobileApp"], True))
    assert time.monotonic() - started < 2


def test_token_is_cached_and_rejected_credentials_fail(graph, tenant) -> None:
    tokens = TokenProvider(graph.base_url, graph.base_url)
    good = ClientSecretCredential(SECRET)
    first = tokens.token(tenant, "cid", good)
    assert tokens.token(tenant, "cid", good) == first and tokens.requests == 1
    with pytest.raises(GraphError) as info:
        tokens.token(tenant, "cid", ClientSecretCredential("wrong-secret"), force_refresh=True)
    assert info.value.code == ErrorCode.GRAPH_AUTH_FAILED
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in repr(info.value.context())
    assert "wrong-secret" not in repr(ClientSecretCredential("wrong-secret"))


def test_sovereign_cloud_hosts_come_from_configuration(graph, tenant) -> None:
    port = graph.base_url.rsplit(":", 1)[1]
    authority = f"http://localhost:{port}"  # a different host name than Graph's
    tokens = TokenProvider(authority, graph.base_url)
    client = GraphClient(graph.base_url, lambda f: tokens.token(tenant, "cid", ClientSecretCredential(SECRET)))
    list(read_pages(client, BY_KEY["mobileApp"], True))
    assert graph.seen["token_host"] == f"localhost:{port}"
    assert graph.seen["token_scope"] == f"{graph.base_url}/.default"
    assert graph.seen["graph_host"] == f"127.0.0.1:{port}"
    assert TokenProvider("https://login.microsoftonline.us", "https://graph.microsoft.us").scope == (
        "https://graph.microsoft.us/.default")
