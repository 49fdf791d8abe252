"""Realistic generated tenants for the scale benchmarks, and the Graph stand-in serving them from its own process
with its pages generated before the clock starts (dev/benchmark tooling, not shipped).

A generated tenant has the mix an MSP's customers show (shapes as in `graph_fixtures`): settings-catalog and
compliance policies with 20–200 settings each (mean ~110), administrative templates with 10–50 definition values
each (mean ~30), each with 1–3 presentation values, apps with assignments, scripts with their content, and the
foundations they point at. `tenant_counts(400)` is a ~400-object tenant, `tenant_counts(2000)` a ~2,000-object one.

`ScaleStandIn` is the ordinary stand-in (every behaviour of `GraphStandIn`: latency, faults, mutations, and the
request accounting) with these sub-collection sizes and a cache of generated objects and sub-collections: `warm`
generates every object of its tenants once, so what the stand-in spends per request while a benchmark runs is
encoding and HTTP, not building fixtures. `python -m invsync_dev.local.graph_scale --tenants N --objects 400`
runs it in a process of its own (its own interpreter lock), and prints its address once warm; a benchmark reads
the process's CPU time from /proc to report the stand-in's share of the machine.
"""

from __future__ import annotations

import threading
from typing import Any

from inventory_sync.domain.registry import PolicyType
from invsync_dev.local.graph_standin import GraphStandIn, StandInTenant

# A ~400-object tenant: what each type holds (foundations included). Larger tenants scale every type alike.
MIX_400: dict[str, int] = {
    "settingsCatalogPolicy": 50, "compliancePolicy": 10, "groupPolicyConfiguration": 20,
    "deviceConfiguration": 60, "deviceCompliancePolicy": 15, "endpointSecurityIntent": 5,
    "mobileApp": 120, "mobileAppConfiguration": 10, "iosManagedAppProtection": 5, "androidManagedAppProtection": 5,
    "deviceManagementScript": 15, "deviceShellScript": 5, "deviceHealthScript": 10, "deviceComplianceScript": 5,
    "windowsAutopilotDeploymentProfile": 5, "deviceEnrollmentConfiguration": 8, "windowsFeatureUpdateProfile": 3,
    "windowsQualityUpdateProfile": 3, "policySet": 3, "termsAndConditions": 2, "intuneBrandingProfile": 2,
    "deviceCategory": 4, "conditionalAccessPolicy": 20,
    "roleScopeTag": 5, "assignmentFilter": 8, "notificationMessageTemplate": 3, "roleDefinition": 10,
}


def tenant_counts(objects: int = 400) -> dict[str, int]:
    """Per-type counts of a generated tenant of about `objects` objects (the ~400 mix scaled)."""
    scale = objects / sum(MIX_400.values())
    return {key: max(1, round(n * scale)) for key, n in MIX_400.items()}


def settings_count(index: int) -> int:
    """Settings of the settings-catalog or compliance policy at `index`: 20–200, spread evenly (mean 110)."""
    return 20 + (index * 37) % 181


def definition_value_count(index: int) -> int:
    """Definition values of the administrative template at `index`: 10–50 (mean 30)."""
    return 10 + (index * 13) % 41


def presentation_value_count(index: int, n: int) -> int:
    """Presentation values of the template's `n`th definition value: 1–3 (mean 2)."""
    return 1 + (index + n) % 3


class ScaleStandIn(GraphStandIn):
    """The stand-in with realistic sub-collection sizes and its generated objects cached (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._items: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._below: dict[tuple[Any, ...], list[dict[str, Any]] | None] = {}
        self._cache_lock = threading.Lock()
        standin = self
        served = self._server.RequestHandlerClass

        class Handler(served):  # type: ignore[valid-type,misc]
            def _get(self, tenant: StandInTenant, path: str, query: dict[str, list[str]],
                     in_batch: bool = False) -> Any:
                # requests per object for its settings: what "a policy's settings in one request" is checked by
                if path.endswith("/settings"):
                    standin._bump(f"settings_requests:{path.rsplit('/', 2)[-2]}")
                if in_batch:  # round trips = requests - batched + batches
                    standin._bump("batched_requests")
                return super()._get(tenant, path, query, in_batch)

        self._server.RequestHandlerClass = Handler

    settings_count = staticmethod(settings_count)
    definition_value_count = staticmethod(definition_value_count)
    presentation_value_count = staticmethod(presentation_value_count)

    @staticmethod
    def _state(tenant: StandInTenant, key: str, index: int) -> tuple[Any, ...]:
        """Everything an object's generated content depends on besides its tenant, type and index: every
        per-object revision the tenant keeps (configuration, assignments, what is below it), the noise, and the
        tenant's membership (policy sets point at other objects)."""
        revisions = tuple(v.get((key, index)) for v in vars(tenant).values() if isinstance(v, dict))
        return (*revisions, tenant.noise, len(tenant.removed), tuple(sorted(tenant.extra.items())))

    def item(self, tenant: StandInTenant, ptype: PolicyType, index: int, expand: bool,
             detail: bool = True) -> dict[str, Any]:
        cache_key = (tenant.graph_tenant_id, ptype.key, index, expand, detail, self._state(tenant, ptype.key, index))
        found = self._items.get(cache_key)
        if found is None:
            found = super().item(tenant, ptype, index, expand, detail)
            with self._cache_lock:
                self._items[cache_key] = found
        return dict(found)  # callers add keys (a policy set's `items`), never change nested values

    def setting(self, ptype: PolicyType, policy_index: int, n: int, revision: int = 1) -> dict[str, Any]:
        cache_key = (ptype.key, policy_index, n, revision)
        found = self._items.get(cache_key)
        if found is None:
            found = super().setting(ptype, policy_index, n, revision)
            with self._cache_lock:
                self._items[cache_key] = found
        return found  # served as it is, never changed

    def below(self, tenant: StandInTenant, ptype: PolicyType, index: int, path: list[str]
              ) -> list[dict[str, Any]] | None:
        cache_key = (tenant.graph_tenant_id, ptype.key, index, tuple(path), self._state(tenant, ptype.key, index))
        if cache_key not in self._below:
            found = super().below(tenant, ptype, index, path)
            with self._cache_lock:
                self._below[cache_key] = found
        found = self._below[cache_key]
        return None if found is None else list(found)

    def warm(self, graph_tenant_id: str) -> int:
        """Generate every object of a tenant as its list pages and sub-collections will serve them. Returns the
        objects generated."""
        from inventory_sync.domain.registry import BY_KEY, Assignments

        tenant = self.tenants[graph_tenant_id]
        made = 0
        for key in list(tenant.counts):
            ptype = BY_KEY[key]
            for index in range(tenant.total(key)):
                self.item(tenant, ptype, index, expand=ptype.assignments is Assignments.EXPAND, detail=False)
                self.item(tenant, ptype, index, expand=False)
                if key == "groupPolicyConfiguration":
                    for value in self.below(tenant, ptype, index, ["definitionValues"]) or []:
                        self.below(tenant, ptype, index, ["definitionValues", value["id"], "presentationValues"])
                elif key in ("settingsCatalogPolicy", "compliancePolicy"):
                    revision = tenant.versions.get((key, index), 1)
                    for n in range(self.settings_count(index)):
                        self.setting(ptype, index, n, revision)
                elif key == "endpointSecurityIntent":
                    self.below(tenant, ptype, index, ["settings"])
                made += 1
        return made


def main() -> None:  # pragma: no cover - benchmarks run it as a process of its own
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Graph stand-in with generated tenants, warmed before it serves")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--tenants", type=int, default=1, help="tenants scale-0.example … scale-{N-1}.example")
    parser.add_argument("--objects", type=int, default=400, help="objects per tenant (about)")
    parser.add_argument("--prefix", default="scale")
    parser.add_argument("--counts", help="per-type counts as JSON, instead of the generated mix")
    parser.add_argument("--batch-item-ms", type=float, default=None, help="per $batch sub-request (default latency/20)")
    parser.add_argument("--window-limit", type=int, default=None, help="requests per tenant per 20 s (Intune: 1000)")
    args = parser.parse_args()
    standin = ScaleStandIn(port=args.port, latency_ms=args.latency_ms)
    standin.batch_item_ms, standin.window_limit = args.batch_item_ms, args.window_limit
    counts = json.loads(args.counts) if args.counts else tenant_counts(args.objects)
    made = 0
    for n in range(args.tenants):
        gid = f"{args.prefix}-{n}.example"
        standin.add_tenant(gid, "bench-client", "bench-secret", counts)
        made += standin.warm(gid)
    standin.start()
    print(f"Graph stand-in on {standin.base_url} ({args.tenants} tenants, {made} objects warmed)", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
