"""The Graph connector at scale, against the stand-in over real HTTP: pacing below the tenant's window,
several $batch requests in flight, child requests packed across parents, the largest settings page, and the
batch path's bounded wait."""

from __future__ import annotations

import time

import pytest

from inventory_sync.adapters.graph.client import GraphClient, RequestPacer, RetryPolicy, RunPacing
from inventory_sync.adapters.graph.credentials import ClientSecretCredential
from inventory_sync.adapters.graph.errors import GraphError
from inventory_sync.adapters.graph.reader import read_pages
from inventory_sync.adapters.graph.token import TokenProvider
from inventory_sync.domain.error_codes import ErrorCode
from inventory_sync.domain.registry import BY_KEY
from invsync_dev.local.graph_standin import Fault

SECRET = "graph-scale-secret-value"


@pytest.fixture
def tenant(graph):
    gid = f"s{time.monotonic_ns()}.onmicrosoft.com"
    graph.add_tenant(gid, "cid", SECRET, counts={"settingsCatalogPolicy": 60, "groupPolicyConfiguration": 40,
                                                  "deviceConfiguration": 5})
    return gid


def _client(graph, gid, **kwargs) -> GraphClient:
    tokens = TokenProvider(graph.base_url, graph.base_url)
    credential = ClientSecretCredential(SECRET)
    return GraphClient(graph.base_url, lambda force: tokens.token(gid, "cid", credential, force_refresh=force),
                       **kwargs)


def test_the_pacer_keeps_a_sliding_window() -> None:
    now = [100.0]
    pacer = RequestPacer(30, window=20.0, clock=lambda: now[0])
    assert pacer.reserve(20) == 0  # a $batch of 20 counts 20
    now[0] = 110.0
    assert pacer.reserve(10) == 0
    assert pacer.reserve(1) == pytest.approx(10.0)  # full: the first 20 leave the window at 120
    now[0] = 120.0
    assert pacer.reserve(15) == 0  # 10 + 15 in the window
    assert pacer.reserve(10) == pytest.approx(10.0)  # room only once the 10 of 110 leave, at 130
    assert RequestPacer(10).reserve(50) == 0  # a request larger than the window still goes, alone


def test_paced_below_the_window_nothing_is_refused(graph, tenant) -> None:
    graph.window_limit, graph.window_seconds = 40, 1.0  # the tenant's limit, scaled down to a second
    # half the limit (and a full $batch): even two windows' worth arriving together (a loaded machine) fit
    paced = _client(graph, tenant, pacing=RunPacing(RequestPacer(20, window=1.0)))
    items = [i for page in read_pages(paced, BY_KEY["settingsCatalogPolicy"], True) for i in page]
    assert len(items) == 60 and all(len(i["settings"]) == i["settingCount"] for i in items)
    assert paced.stats.requests == 61 and paced.stats.throttled == 0 and graph.count("window_refused") == 0
    assert paced.stats.paced > 0  # it did hold back
    # the same read without the pacer: refused sub-requests, retried after the Retry-After the window gave
    unpaced = _client(graph, tenant)
    time.sleep(1.0)
    again = [i for page in read_pages(unpaced, BY_KEY["settingsCatalogPolicy"], True) for i in page]
    assert [i["settings"] for i in again] == [i["settings"] for i in items]
    assert unpaced.stats.throttled > 0 and graph.count("window_refused") > 0


def test_child_requests_are_packed_across_parents_and_sent_side_by_side(graph, tenant) -> None:
    graph.latency_ms = 200  # a batch is served for ≥ 0.2 s: the five of one round overlap, however loaded
    client = _client(graph, tenant)
    before = graph.count("batch_requests")
    templates = [i for page in read_pages(client, BY_KEY["groupPolicyConfiguration"], True) for i in page]
    values = sum(len(t["definitionValues"]) for t in templates)
    assert len(templates) == 40 and values == 100
    assert all(v["presentationValues"] for t in templates for v in t["definitionValues"])
    # 40 definition-value requests in 2 batches, 100 presentation-value requests (of 40 templates) in 5
    assert graph.count("batch_requests") - before == 7
    assert graph.count("max_in_flight") >= 4  # the 5 presentation batches went out together


def test_settings_come_in_one_request(graph, tenant) -> None:
    graph.trace = []
    client = _client(graph, tenant)
    policies = [i for page in read_pages(client, BY_KEY["settingsCatalogPolicy"], True) for i in page]
    large = [p for p in policies if p["settingCount"] > 25]
    assert large
    for policy in large:
        reads = [path for path in graph.trace if path.endswith(f"/{policy['id']}/settings")]
        assert len(reads) == 1 and len(policy["settings"]) == policy["settingCount"]


def test_the_batch_path_bounds_its_total_wait(graph, tenant) -> None:
    client = _client(graph, tenant, policy=RetryPolicy(max_attempts=20, max_total_wait=2.5))
    target = graph.item_id(tenant, "deviceConfiguration", 1)
    graph.set_fault("deviceConfiguration", Fault(status=429, retry_after="1"))
    with pytest.raises(GraphError) as raised:
        client.batch_get([f"/deviceManagement/deviceConfigurations/{target}"])
    assert raised.value.code is ErrorCode.GRAPH_THROTTLED
    assert client.stats.waited_seconds <= 2.5  # not 20 attempts' worth of Retry-After
