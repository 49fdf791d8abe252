"""The tenant's Graph token goes to the configured Graph only, and answers that are not what Graph sends
end their type with a clear error — never a crash, never a deletion — while the other types complete."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from invsync_dev.local.graph_standin import Quirk
from tests.support.servers import loopback_server

OTHER = "mobileApp"  # a type that always lists fine next to the one under test


def _sync(env, policy_types: list[str]) -> dict[str, Any]:
    bulk_id = env.pipeline.dispatch(env.tenant.id, {"policy_types": policy_types, "include_foundations": False}
                                    )["bulk_operation_run"]["id"]
    env.pipeline.run_all()
    row = env.db.execute("SELECT status, error_codes, error_context, items_deleted_count FROM inventory_sync_runs"
                         " WHERE bulk_operation_run_id = %s", (bulk_id,)).fetchone()
    return {"status": row[0], "error_codes": row[1], "types": row[2].get("types", {}), "deleted": row[3]}


def _live(env, policy_type: str) -> int:
    return env.db.execute("SELECT count(*) FROM inventory_items WHERE policy_type = %s AND deleted_at IS NULL",
                          (policy_type,)).fetchone()[0]


@pytest.fixture
def elsewhere():
    """Another loopback server (another port): records every request it receives, answers like Graph would."""
    seen: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            seen.append(conn.recv(65536))
        except OSError:
            return
        body = b'{"value": [{"id": "planted", "displayName": "from elsewhere"}]}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)

    with loopback_server(handle) as port:
        yield f"http://127.0.0.1:{port}", seen


def _assert_ended_invalid(result: dict[str, Any], policy_type: str, *needles: str) -> str:
    assert result["status"] == "partial", result
    assert result["error_codes"] == ["graph_invalid_response"]
    assert set(result["types"]) == {policy_type}
    message = result["types"][policy_type]["message"]
    for needle in needles:
        assert needle in message, message
    return message


def test_a_next_link_to_another_host_is_not_followed(env, elsewhere) -> None:
    url, seen = elsewhere
    types = ["deviceConfiguration", OTHER]
    assert _sync(env, types)["status"] == "success"
    stored = _live(env, "deviceConfiguration")
    env.graph.set_quirk("deviceConfiguration", Quirk("foreign_next_link", target=url))
    result = _sync(env, types)
    message = _assert_ended_invalid(result, "deviceConfiguration", "leaves the configured Graph",
                                             url.removeprefix("http://"))
    assert "leak=check" not in message and "skiptoken" not in message  # no query string in the context
    assert seen == []  # never contacted, so never handed the token
    assert _live(env, "deviceConfiguration") == stored and result["deleted"] == 0
    assert not env.db.execute("SELECT 1 FROM inventory_items WHERE external_id = 'planted'").fetchall()
    assert _live(env, OTHER) == env.graph.tenants[env.graph_tenant_id].counts[OTHER]


def test_a_batch_sub_response_next_link_to_another_host_is_not_followed(env, elsewhere) -> None:
    url, seen = elsewhere
    env.graph.set_quirk("settingsCatalogPolicy", Quirk("foreign_next_link", target=url, below=True))
    result = _sync(env, ["settingsCatalogPolicy", OTHER])
    _assert_ended_invalid(result, "settingsCatalogPolicy", "leaves the configured Graph")
    assert seen == []
    assert _live(env, "settingsCatalogPolicy") == 0 and _live(env, OTHER) > 0


def test_the_token_is_refused_to_any_other_origin(graph) -> None:
    from inventory_sync.adapters.graph.client import GraphClient
    from inventory_sync.adapters.graph.errors import GraphError

    asked: list[bool] = []

    def token(force: bool) -> str:
        asked.append(force)
        return "tok"

    client = GraphClient(graph.base_url, token)
    host, port = graph.base_url.removeprefix("http://").split(":")
    for url in (f"https://{host}:{port}/beta/x", f"http://{host}:{int(port) + 1}/beta/x",
                f"http://localhost.example:{port}/beta/x", "http://user@evil.example/beta/x?$skiptoken=secret"):
        with pytest.raises(GraphError) as caught:
            client.request("GET", url)
        assert caught.value.code == "graph_invalid_response" and "secret" not in caught.value.message
    assert asked == []  # no token was even fetched for those


@pytest.mark.parametrize("mode", ["self_next_link", "cycle"])
def test_next_link_cycles_end_quickly(env, mode) -> None:
    env.graph.add_items(env.graph_tenant_id, "deviceConfiguration", 250)  # three pages
    env.graph.set_quirk("deviceConfiguration", Quirk(mode))
    started = time.monotonic()
    result = _sync(env, ["deviceConfiguration", OTHER])
    assert time.monotonic() - started < 20
    _assert_ended_invalid(result, "deviceConfiguration", "points back to a page already read")


def test_a_listing_past_the_page_cap_is_cut_short(env, monkeypatch) -> None:
    env.pipeline.rewire(graph_max_pages=2)
    env.graph.add_items(env.graph_tenant_id, "deviceConfiguration", 250)
    result = _sync(env, ["deviceConfiguration", OTHER])
    _assert_ended_invalid(result, "deviceConfiguration", "longer than 2 pages")


@pytest.mark.parametrize(("mode", "needle"), [
    ("html", "not valid JSON"),
    ("value_not_list", "no 'value' array"),
    ("missing_id", "objects without an id"),
    ("duplicate_id", "1 duplicate ids across pages"),
    ("huge_item", "objects over 65536 bytes"),
])
def test_answers_graph_does_not_send_end_the_type_and_delete_nothing(env, monkeypatch, mode, needle) -> None:
    env.pipeline.rewire(graph_max_item_bytes=65536)
    env.graph.add_items(env.graph_tenant_id, "deviceConfiguration", 150)  # two pages
    assert _sync(env, ["deviceConfiguration", OTHER])["status"] == "success"
    stored = _live(env, "deviceConfiguration")
    env.graph.set_quirk("deviceConfiguration", Quirk(mode, size=100_000))
    result = _sync(env, ["deviceConfiguration", OTHER])
    _assert_ended_invalid(result, "deviceConfiguration", needle)
    assert result["deleted"] == 0 and _live(env, "deviceConfiguration") == stored
    assert _live(env, OTHER) == env.graph.tenants[env.graph_tenant_id].counts[OTHER]
