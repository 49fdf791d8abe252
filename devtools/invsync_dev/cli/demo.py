"""`invsync demo`: the local stack, one full sync end to end through HTTP, then a partial one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from invsync_dev.cli.api_client import ApiClient
from invsync_dev.cli.output import audit_trail, change_set, summary, wait_for
from invsync_dev.local.graph_standin import Fault
from invsync_dev.local.http_api import request
from invsync_dev.local.stack import DEMO_GRAPH_TENANT, LocalStack


def sync_and_show(api: ApiClient, tenant_id: int, body: dict[str, Any], title: str,
                  details: bool = True) -> dict[str, Any]:
    print(f"\n== {title}")
    dispatched = api.call("POST", f"/tenants/{tenant_id}/inventory-syncs", body, expect=(202,))
    op_id = dispatched["bulk_operation_run"]["id"]
    print(f"dispatched bulk operation {op_id} (selection {dispatched['selection_hash'][:12]}…, "
          f"{len(dispatched['selection']['policy_types'])} policy types)")
    op = wait_for(lambda: api.call("GET", f"/bulk-operations/{op_id}"))
    print()
    if not details:
        run = op.get("run") or {}
        print(f"{op['status']}: run {run.get('id')} {run.get('status')}, changes {run.get('changes')}")
        return op
    print(summary(op, api.items(tenant_id)))
    print("\nAudit trail")
    print(audit_trail(api.trail(tenant_id, op)))
    return op


def run_demo(data_dir: Path, api_port: int = 0) -> int:
    stack = LocalStack(data_dir, api_port=api_port).start()
    try:
        assert stack.api is not None and stack.graph is not None  # started
        demo = stack.ensure_demo()
        print("Inventory Sync — local demo\n")
        print(stack.describe(demo))
        api = ApiClient(stack.api.url, demo.token)
        status, _, _ = request(stack.api.url + "/policy-types", "GET", "not-a-valid-token")
        print(f"\n(a request with a bad token answers {status})")
        first = sync_and_show(api, demo.tenant_id, {}, "Full inventory sync")
        # devices report in and objects are saved unchanged: counters and timestamps move, no configuration
        stack.graph.touch(DEMO_GRAPH_TENANT)
        stack.graph.set_fault("mobileApp", Fault(status=403))
        second = sync_and_show(api, demo.tenant_id, {}, "Second sync: only reporting fields moved, and Graph"
                                                        " refuses mobileApp (403)")
        stack.graph.clear_faults()
        upserted = (second["run"] or {}).get("items_upserted_count")
        print(f"\nitems changed by the second sync (reporting counters and timestamps are not configuration):"
              f" {upserted}")
        # a real change: one setting deep in a settings-catalog policy, one policy added, one removed
        graph = stack.graph
        graph.modify_item(DEMO_GRAPH_TENANT, "settingsCatalogPolicy", 1)
        graph.add_items(DEMO_GRAPH_TENANT, "deviceConfiguration", 1)
        removed = graph.tenants[DEMO_GRAPH_TENANT].total("deviceCompliancePolicy") - 1
        graph.remove_item(DEMO_GRAPH_TENANT, "deviceCompliancePolicy", removed)
        third = sync_and_show(api, demo.tenant_id, {}, "Third sync: one setting changed, one policy added,"
                                                       " one removed", details=False)
        run_id = (third["run"] or {}).get("id")
        changes = api.call("GET", f"/tenants/{demo.tenant_id}/inventory-syncs/{run_id}/changes?limit=200")["items"]
        print("\nWhat changed (GET /tenants/{id}/inventory-syncs/{run_id}/changes, or invsync changes):")
        print(change_set(changes, color=sys.stdout.isatty()))
        kinds = sorted(c["change"] for c in changes)
        ok = (first["status"] == "completed" and second["status"] == "completed_with_errors"
              and (second["run"] or {}).get("status") == "partial" and upserted == 0
              and third["status"] == "completed"
              # on a later demo run the "new" policy is one an earlier run saw and lost: restored, not added
              and kinds in (["added", "changed", "deleted"], ["changed", "deleted", "restored"]))
        kept = [i for i in api.items(demo.tenant_id) if i["policy_type"] == "mobileApp"]
        print(f"\nmobileApp items kept from the first sync (a failed listing deletes nothing): {len(kept)}")
        print("\nDemo finished " + ("successfully." if ok else "with unexpected statuses."))
        print("The web console: run `.venv/bin/invsync local up` and open http://127.0.0.1:3000/console/ "
              "(this demo's stack, and its console above, stop now).")
        return 0 if ok else 1
    finally:
        stack.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo(Path(".data")))
