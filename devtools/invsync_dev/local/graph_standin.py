"""A local stand-in for Microsoft Graph and the Entra token endpoint (dev/test tooling, not shipped).

Serves the registry's collections for generated tenants with the shapes of Graph's documented responses
(`graph_fixtures`: several `@odata.type` subtypes per collection, the configuration kept below objects,
every assignment target kind), server-side paging with absolute ``@odata.nextLink``,
``$expand=assignments``, ``$batch``, ``request-id`` headers, and scriptable faults per policy type.
Items are generated from their index on demand, so a 100,000-item tenant costs no memory.

Between syncs a test or the demo can add, remove or modify objects (a real setting changes: the object's
change markers move with it) and "touch" a tenant: only noise moves (server timestamps and versions,
reporting counters, OData control annotations), as when an administrator saves a policy unchanged or devices
report in. `modify_below` changes configuration below an object, with or without its markers moving.

Honest about cost, as Graph is: a request costs `latency_ms`; a ``$batch`` costs its latency plus
`batch_item_ms` per sub-request (Graph runs them server-side, not for free); with `window_limit` set, each
tenant may send that many requests per sliding 20 s (sub-requests counted, as Intune counts them: 1,000 per
app per tenant) and anything over it is answered 429 with the Retry-After that is actually needed; `$top` is
honoured up to the endpoint's cap (settings: 1,000, lists: 999).
"""

from __future__ import annotations

import copy
import json
import math
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from inventory_sync.domain.registry import BY_KEY, FOUNDATIONS, POLICY_TYPES, Assignments, PolicyType
from invsync_dev.local import graph_fixtures

NS = uuid.UUID("6f1c1d44-4a39-4a4f-9d9a-0b7b8f7d3a11")
NO_FILTER = "00000000-0000-0000-0000-000000000000"
DEFAULT_TOP = 100
MAX_TOP = 999
SETTINGS_PAGE = 25  # without $top
SETTINGS_MAX_TOP = 1000
WINDOW_SECONDS = 20.0

# Types whose objects carry a server-incremented `version` (an integer; app protection: a string).
VERSIONED = frozenset({"deviceConfiguration", "deviceCompliancePolicy", "deviceEnrollmentConfiguration",
                       "termsAndConditions", "mobileAppConfiguration", "hardwareConfiguration"})
STRING_VERSIONED = frozenset({"targetedManagedAppConfiguration", "iosManagedAppProtection",
                              "androidManagedAppProtection", "windowsManagedAppProtection",
                              "windowsInformationProtectionPolicy"})
# The sub-collections the stand-in serves below an object: (policy type, segment) → elements for (index, revision).
INTENT_SETTINGS = 3


@dataclass
class Quirk:
    """A 200 answer that is not what Graph sends, for one policy type's listing (and its sub-collections):
    `foreign_next_link` (to `target`, another base URL), `self_next_link`, `cycle` (page 2 links back to
    page 1), `html`, `value_not_list`, `missing_id`, `duplicate_id`, `huge_item` (`size` bytes)."""

    mode: str
    target: str = ""
    size: int = 0
    below: bool = False  # applies to the sub-collections below the type's objects (read through $batch) only


@dataclass
class Fault:
    status: int = 500
    times: int | None = None  # None: every request until cleared
    retry_after: str | None = None
    malformed: bool = False
    latency_ms: int = 0

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


@dataclass
class StandInTenant:
    graph_tenant_id: str
    client_id: str
    client_secret: str
    counts: dict[str, int]
    certificate_pem: str | None = None  # accepts signed client assertions when set
    removed: set[tuple[str, int]] = field(default_factory=set)
    extra: dict[str, int] = field(default_factory=dict)  # items added after generation
    versions: dict[tuple[str, int], int] = field(default_factory=dict)  # revision of an object's configuration
    assignment_versions: dict[tuple[str, int], int] = field(default_factory=dict)  # revision of its assignments
    # revision of the configuration below an object (settings, definition values, scheduled actions), and
    # how many of those revisions moved its markers (lastModifiedDateTime, version)
    below_versions: dict[tuple[str, int], int] = field(default_factory=dict)
    marked_below: dict[tuple[str, int], int] = field(default_factory=dict)
    noise: int = 0  # moves server timestamps, versions, reporting counters and control annotations only
    window: deque[float] = field(default_factory=deque)  # when each request of the last 20 s was served
    refused: set[str] = field(default_factory=set)  # policy types this tenant's app may not read (403)

    def total(self, key: str) -> int:
        return self.counts.get(key, 0) + self.extra.get(key, 0)

    def exists(self, key: str, index: int) -> bool:
        return 0 <= index < self.total(key) and (key, index) not in self.removed


def demo_counts(scale: int = 1) -> dict[str, int]:
    """A few hundred objects across every type and foundation."""
    counts = {}
    for n, ptype in enumerate(POLICY_TYPES):
        counts[ptype.key] = (3 + (n * 7) % 15) * scale
    counts.update({"roleScopeTag": 4, "assignmentFilter": 5, "notificationMessageTemplate": 3, "roleDefinition": 6})
    counts["settingsCatalogPolicy"] = 24 * scale
    counts["deviceConfiguration"] = 40 * scale
    counts["mobileApp"] = 60 * scale
    return counts


def large_counts(total: int, keys: list[str] | None = None) -> dict[str, int]:
    keys = keys or ["deviceConfiguration"]
    per, rest = divmod(total, len(keys))
    return {k: per + (1 if i < rest else 0) for i, k in enumerate(keys)}


_ALL_ISSUED: list[str] = []  # every token any stand-in in this process issued (for secret scans)


def issued_tokens() -> list[str]:
    return list(_ALL_ISSUED)


class GraphStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency_ms: int = 0) -> None:
        self.tenants: dict[str, StandInTenant] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.faults: dict[str, Fault] = {}
        self.quirks: dict[str, Quirk] = {}
        self.token_fault: Fault | None = None
        self.latency_ms = latency_ms
        self.batch_item_ms: float | None = None  # None: latency_ms / 20 (a full $batch costs twice a request)
        self.window_limit: int | None = None  # requests per tenant per sliding window; None: unlimited
        self.window_seconds = WINDOW_SECONDS
        self.in_flight = 0  # Graph requests being served now (max_in_flight: the most at once)
        self.trace: list[str] | None = None  # when a list: every GET's path (sub-requests too), in order
        self.id_index: dict[tuple[str, str], dict[str, int]] = {}  # (tenant, type) → object id → index
        self.token_lifetime = 3600
        self.stats: dict[str, int] = {}
        self.issued_tokens: list[str] = []  # every token ever issued (secret-scan tests look for them)
        self.seen: dict[str, str] = {}  # last Host headers and token scope, for configuration tests
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GraphStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, name="graph-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- scripting -----------------------------------------------------------------------
    def add_tenant(self, graph_tenant_id: str, client_id: str, client_secret: str,
                   counts: dict[str, int] | None = None) -> StandInTenant:
        tenant = StandInTenant(graph_tenant_id, client_id, client_secret, dict(counts or demo_counts()))
        with self.lock:
            self.tenants[graph_tenant_id] = tenant
        return tenant

    def set_fault(self, key: str, fault: Fault) -> None:
        with self.lock:
            self.faults[key] = fault

    def set_quirk(self, key: str, quirk: Quirk) -> None:
        with self.lock:
            self.quirks[key] = quirk

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self.quirks.clear()
            self.token_fault = None
            self.window_limit = None
            self.window_seconds = WINDOW_SECONDS
            self.batch_item_ms = None
            self.trace = None
            self.stats.pop("max_in_flight", None)

    def admit(self, tenant: StandInTenant, n: int = 1) -> float:
        """Counts `n` requests against the tenant's window; 0 when they fit, else the seconds until they
        would (nothing counted). Without a window limit everything fits."""
        if self.window_limit is None:
            return 0.0
        with self.lock:
            now = time.monotonic()
            window = tenant.window
            while window and window[0] <= now - self.window_seconds:
                window.popleft()
            if len(window) + n <= self.window_limit:
                window.extend([now] * n)
                return 0.0
            oldest_needed = window[len(window) + n - self.window_limit - 1]
            self._bump("window_refused")
            return max(0.001, oldest_needed + self.window_seconds - now)

    def _enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.stats["max_in_flight"] = max(self.stats.get("max_in_flight", 0), self.in_flight)

    def _leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def batch_cost_ms(self, sub_requests: int) -> float:
        per_item = self.latency_ms / 20 if self.batch_item_ms is None else self.batch_item_ms
        return self.latency_ms + per_item * sub_requests

    def count(self, name: str) -> int:
        with self.lock:
            return self.stats.get(name, 0)

    def _bump(self, name: str) -> None:
        with self.lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def remove_item(self, graph_tenant_id: str, key: str, index: int) -> None:
        with self.lock:
            self.tenants[graph_tenant_id].removed.add((key, index))

    def add_items(self, graph_tenant_id: str, key: str, n: int) -> None:
        with self.lock:
            tenant = self.tenants[graph_tenant_id]
            tenant.extra[key] = tenant.extra.get(key, 0) + n

    def modify_item(self, graph_tenant_id: str, key: str, index: int) -> None:
        """A real configuration change: the object's scripted setting (or a setting below it) changes."""
        with self.lock:
            versions = self.tenants[graph_tenant_id].versions
            versions[(key, index)] = versions.get((key, index), 1) + 1

    def modify_below(self, graph_tenant_id: str, key: str, index: int, markers_move: bool = True) -> None:
        """Configuration below the object changes (its first setting, definition value, scheduled action);
        `markers_move=False`: without its lastModifiedDateTime or version moving — what only a full read sees."""
        with self.lock:
            tenant = self.tenants[graph_tenant_id]
            tenant.below_versions[(key, index)] = tenant.below_versions.get((key, index), 0) + 1
            if markers_move:
                tenant.marked_below[(key, index)] = tenant.marked_below.get((key, index), 0) + 1

    def below_revision(self, tenant: StandInTenant, key: str, index: int) -> int:
        """The revision of the configuration below an object: its own, plus changes made below it only."""
        return tenant.versions.get((key, index), 1) + tenant.below_versions.get((key, index), 0)

    def reassign_item(self, graph_tenant_id: str, key: str, index: int) -> None:
        """An assignment change: the object's first assignment moves to another group."""
        with self.lock:
            versions = self.tenants[graph_tenant_id].assignment_versions
            versions[(key, index)] = versions.get((key, index), 1) + 1

    def touch(self, graph_tenant_id: str) -> None:
        """Noise only, on every object of the tenant: what must never count as a change."""
        with self.lock:
            self.tenants[graph_tenant_id].noise += 1

    def item_id(self, graph_tenant_id: str, key: str, index: int) -> str:
        if key == "roleScopeTag":
            return str(index)  # scope tag ids are small numbers; "0" is the built-in Default tag
        return str(uuid.uuid5(NS, f"{graph_tenant_id}:{key}:{index}"))

    # -- generated content ---------------------------------------------------------------
    def item(self, tenant: StandInTenant, ptype: PolicyType, index: int, expand: bool,
             detail: bool = True) -> dict[str, Any]:
        """One object as Graph returns it: the list's shape unless `detail` (what a GET of the object adds)."""
        key = ptype.key
        shapes = graph_fixtures.SHAPES[key]
        shape = copy.deepcopy(shapes[index % len(shapes)])
        setting = shape.pop("_setting", None)
        noisy = shape.pop("_noise", [])
        no_scope_tags = shape.pop("_no_scope_tags", False)
        null_name = shape.pop("_null_name", False)
        revision = tenant.versions.get((key, index), 1)
        noise = tenant.noise
        name = f"{key} {index:05d}"
        item: dict[str, Any] = {}
        if "@odata.type" in shape:
            item["@odata.type"] = shape.pop("@odata.type")
        item["id"] = self.item_id(tenant.graph_tenant_id, key, index)
        if key == "roleScopeTag" and index == 0:
            name, shape["isBuiltIn"] = "Default", True
        item[ptype.name_field] = None if null_name else name
        item["profileDescription" if key == "intuneBrandingProfile" else "description"] = (
            f"Generated {key} number {index}")
        item |= shape
        if key != "conditionalAccessPolicy" and key != "roleScopeTag":
            item["createdDateTime"] = "2026-01-15T08:00:00Z"
        marked = revision + tenant.marked_below.get((key, index), 0)  # what the markers show
        stamp = f"2026-11-{1 + (marked + noise) % 27:02d}T{10 + (marked + noise) // 27 % 12:02d}:{noise % 60:02d}:00Z"
        item["modifiedDateTime" if key == "conditionalAccessPolicy" else "lastModifiedDateTime"] = stamp
        if key in VERSIONED:
            item["version"] = marked + noise
        elif key in STRING_VERSIONED:
            item["version"] = f'"{marked + noise:08x}"'
        if not no_scope_tags:
            tags = ["0"] if index % 3 else ["0", "1"]
            item[ptype.scope_tags_field] = tags
        if noise:
            item["@odata.etag"] = f'W/"{noise}"'
            for field_name in noisy:
                item[field_name] = _noisy(item[field_name], noise)
            if "isAssigned" in item:
                item["isAssigned"] = bool(noise % 2) or bool(item["isAssigned"])
        if setting and revision > 1:
            item[setting] = _revised(item.get(setting), revision)
        if key in ("settingsCatalogPolicy", "compliancePolicy"):
            item["settingCount"] = self.settings_count(index)
        if not detail:
            for field_name in ptype.detail_fields:
                item[field_name] = None  # the list leaves it out; a GET of the object returns it
        if expand and ptype.assignments is not Assignments.NONE:
            item["assignments@odata.context"] = (f"https://graph.microsoft.com/beta/$metadata#deviceManagement/"
                                                 f"{key}('{item['id']}')/assignments?n={noise}")
            item["assignments"] = self.assignments(tenant, key, index)
        return item

    def assignments(self, tenant: StandInTenant, key: str, index: int) -> list[dict[str, Any]]:
        """Assignments shaped as each kind of type has them: every target kind, filters, app intents (the
        same group more than once), and assignments that arrive through a policy set."""
        gid = tenant.graph_tenant_id
        item_id = self.item_id(gid, key, index)
        moved = tenant.assignment_versions.get((key, index), 1)
        group = str(uuid.uuid5(NS, f"g{index % 7}" if moved == 1 else f"g{index % 7}-moved-{moved}"))
        filter_id = self.item_id(gid, "assignmentFilter", index % 5) if index % 2 == 0 else NO_FILTER
        if key == "cloudPcProvisioningPolicy":  # Windows 365: its own target kind, written without the '#'
            return [{"id": f"{item_id}_{group}", "target": {
                "@odata.type": "microsoft.graph.cloudPcManagementGroupAssignmentTarget", "groupId": group,
                "servicePlanId": "9ecf691d-8b82-46cb-b254-cd061b2c02fb" if index % 2 else None,
                "allotmentDisplayName": None, "allotmentLicensesCount": None}}]
        targets = [
            {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
             "deviceAndAppManagementAssignmentFilterId": filter_id,
             "deviceAndAppManagementAssignmentFilterType": "include" if filter_id != NO_FILTER else "none"},
            {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget",
             "groupId": str(uuid.uuid5(NS, f"g{(index + 3) % 7}")),
             "deviceAndAppManagementAssignmentFilterId": None, "deviceAndAppManagementAssignmentFilterType": "none"},
            {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget",
             "deviceAndAppManagementAssignmentFilterId": NO_FILTER,
             "deviceAndAppManagementAssignmentFilterType": "none"},
            {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget",
             "deviceAndAppManagementAssignmentFilterId": None, "deviceAndAppManagementAssignmentFilterType": "none"},
        ][: 1 + index % 4]
        if key == "deviceConfiguration" and index % 5 == 4:
            targets.append({"@odata.type": "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
                            "collectionId": f"SMS0000{index % 10}"})
        out: list[dict[str, Any]] = []
        for n, target in enumerate(targets):
            assignment: dict[str, Any] = {"id": f"{item_id}_{n}", "source": "direct", "sourceId": None,
                                          "target": target}
            if key == "mobileApp":
                assignment |= {"@odata.type": "#microsoft.graph.mobileAppAssignment",
                               "intent": "required" if n == 0 else "available",
                               "settings": {"@odata.type": "#microsoft.graph.win32LobAppAssignmentSettings",
                                            "notifications": "showAll", "restartSettings": None,
                                            "installTimeSettings": None,
                                            "deliveryOptimizationPriority": "notConfigured"}}
            elif key == "deviceConfiguration":
                assignment["intent"] = "apply"
            out.append(assignment)
        if key == "mobileApp" and index % 3 == 0:  # the same group, another intent: two assignments
            out.append({"@odata.type": "#microsoft.graph.mobileAppAssignment", "id": f"{item_id}_avail",
                        "intent": "available", "source": "direct", "sourceId": None, "settings": None,
                        "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
                                   "deviceAndAppManagementAssignmentFilterId": None,
                                   "deviceAndAppManagementAssignmentFilterType": "none"}})
        if key in ("deviceConfiguration", "mobileApp") and index % 4 == 1 and tenant.total("policySet"):
            set_id = self.item_id(gid, "policySet", index % tenant.total("policySet"))
            out.append({"id": f"{item_id}_ps", "source": "policySets", "sourceId": set_id,
                        "intent": "required" if key == "mobileApp" else "apply",
                        "target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group,
                                   "deviceAndAppManagementAssignmentFilterId": None,
                                   "deviceAndAppManagementAssignmentFilterType": "none"}})
        return out

    def policy_set_items(self, tenant: StandInTenant, index: int) -> list[dict[str, Any]]:
        gid = tenant.graph_tenant_id
        members: list[tuple[str, str, str, str | None]] = []
        for subtype, key in (("deviceConfigurationPolicySetItem", "deviceConfiguration"),
                             ("mobileAppPolicySetItem", "mobileApp"),
                             ("deviceManagementConfigurationPolicyPolicySetItem", "settingsCatalogPolicy")):
            total = tenant.total(key)
            if total:
                member = (index + tenant.versions.get(("policySet", index), 1) - 1) % total
                members.append((subtype, self.item_id(gid, key, member), f"{key} {member:05d}", None))
        members = members[: 1 + index % 3]
        if index % 4 == 3:  # members whose subtype covers several types: what they are is in `itemType`
            if tenant.total("iosManagedAppProtection"):
                members.append(("managedAppProtectionPolicySetItem", self.item_id(gid, "iosManagedAppProtection", 0),
                                "iosManagedAppProtection 00000", "iosManagedAppProtection"))
            if tenant.total("deviceEnrollmentConfiguration") > 1:  # index 1: an enrollment status page
                members.append(("windows10EnrollmentCompletionPageConfigurationPolicySetItem",
                                self.item_id(gid, "deviceEnrollmentConfiguration", 1),
                                "deviceEnrollmentConfiguration 00001",
                                "windows10EnrollmentCompletionPageConfiguration"))
        items = graph_fixtures.policy_set_items(members)
        for entry in items:
            entry["lastModifiedDateTime"] = f"2026-11-{1 + tenant.noise % 27:02d}T10:00:00Z"
            entry["status"] = "success" if tenant.noise % 2 == 0 else "partialSuccess"
        return items

    @staticmethod
    def settings_count(index: int) -> int:
        return 3 + (index * 11) % 60  # some policies have more than one page (25) of settings

    # Sizes of an administrative template's sub-collections (graph_scale's generated tenants override these).
    @staticmethod
    def definition_value_count(index: int) -> int:
        return 1 + index % 4

    @staticmethod
    def presentation_value_count(index: int, n: int) -> int:
        return 1 + n % 2

    def setting(self, ptype: PolicyType, policy_index: int, n: int, revision: int = 1) -> dict[str, Any]:
        if ptype.key == "compliancePolicy":
            return graph_fixtures.linux_compliance_setting(policy_index, n, revision if n == 0 else 1)
        return graph_fixtures.catalog_setting(policy_index, n, revision if n == 0 else 1)

    def below(self, tenant: StandInTenant, ptype: PolicyType, index: int, path: list[str]
              ) -> list[dict[str, Any]] | None:
        """A sub-collection below an object (settings of intents, definition values and their presentation
        values), or None when there is no such thing."""
        revision = self.below_revision(tenant, ptype.key, index)
        noise = tenant.noise
        if ptype.key == "deviceCompliancePolicy" and path == ["scheduledActionsForRule"]:
            return graph_fixtures.scheduled_actions(self.item_id(tenant.graph_tenant_id, "deviceCompliancePolicy",
                                                                 index), revision)
        if ptype.key == "endpointSecurityIntent" and path == ["settings"]:
            return [graph_fixtures.intent_setting(index, n, revision if n == 0 else 1)
                    for n in range(INTENT_SETTINGS + index % 3)]
        if ptype.key != "groupPolicyConfiguration" or not path or path[0] != "definitionValues":
            return None
        values = [graph_fixtures.definition_value(index, n) for n in range(self.definition_value_count(index))]
        for value in values:
            value["lastModifiedDateTime"] = f"2026-11-{1 + noise % 27:02d}T10:00:00Z"
        if path == ["definitionValues"]:
            return values
        if len(path) == 3 and path[2] == "presentationValues":
            for n, value in enumerate(values):
                if value["id"] == path[1]:
                    return [graph_fixtures.presentation_value(value["id"], p, revision if n == 0 else 1)
                            for p in range(self.presentation_value_count(index, n))]
            return None
        return None


def _noisy(value: Any, noise: int) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return value * (1 + noise % 2)
    if isinstance(value, int):
        return value + noise
    if isinstance(value, dict):
        return {**value, "lastSuccessfulSyncDateTime": f"2026-11-{1 + noise % 27:02d}T02:00:00Z"}
    if isinstance(value, str):
        return ["success", "partialSuccess", "notAssigned"][noise % 3]
    return value


def _revised(value: Any, revision: int) -> Any:
    """The scripted setting at `revision`: a different value of the same kind."""
    if isinstance(value, bool):
        return value if revision % 2 else not value
    if isinstance(value, int):
        return value + revision - 1
    if isinstance(value, str):
        return f"{value} (rev {revision})"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            first = dict(value[0])
            text_key = next((k for k, v in first.items() if isinstance(v, str) and k != "@odata.type"), None)
            if text_key:
                first[text_key] = f"{first[text_key]} (rev {revision})"
            return [first, *value[1:]]
        return [*value, f"rev{revision}"]
    if isinstance(value, dict):
        changed = dict(value)
        for k, v in changed.items():
            if isinstance(v, int | str) and not isinstance(v, bool) and k != "@odata.type":
                changed[k] = v + revision - 1 if isinstance(v, int) else f"{v} (rev {revision})"
                break
        else:  # only switches (iOS apps' applicableDeviceType): the first one flips
            flag = next((k for k, v in changed.items() if isinstance(v, bool)), None)
            if flag is not None:
                changed[flag] = _revised(changed[flag], revision)
        return changed
    return f"rev {revision}"


# sub-collections that take an $expand, and the one they take
_BELOW_EXPANDS = {("definitionValues", "definition"), ("presentationValues", "presentation"),
                  ("scheduledActionsForRule", "scheduledActionConfigurations")}


def _handler_for(standin: GraphStandIn) -> type[BaseHTTPRequestHandler]:
    collections = {t.collection: t for t in POLICY_TYPES + FOUNDATIONS}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        # -- plumbing --------------------------------------------------------------------
        def _base(self) -> str:
            """Links and audiences use the address the caller used (a relay in front of this server, say)."""
            host = self.headers.get("Host")
            return f"http://{host}" if host else standin.base_url

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(body).encode()
            headers = dict(headers or {})
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            body = self._body()
            if path.endswith("/oauth2/v2.0/token"):
                return self._token(path.split("/")[1], body)
            if path.startswith("/_standin/"):
                return self._control(path, body)
            tenant = self._auth()
            if tenant is None:
                return
            if path in ("/beta/$batch", "/v1.0/$batch"):
                standin._enter()
                try:
                    return self._batch(tenant, body)
                finally:
                    standin._leave()
            self._send(405, {"error": {"code": "MethodNotAllowed", "message": "POST not allowed"}})

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path == "/_standin/stats":
                with standin.lock:
                    return self._send(200, dict(standin.stats))
            tenant = self._auth()
            if tenant is None:
                return
            standin._enter()
            try:
                status, body, headers, raw = self._get(tenant, parts.path, parse_qs(parts.query))
            finally:
                standin._leave()
            self._send(status, body, headers, raw)

        # -- endpoints -------------------------------------------------------------------
        def _token(self, graph_tenant_id: str, body: bytes) -> None:
            standin._bump("token_requests")
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            with standin.lock:
                standin.seen["token_host"] = self.headers.get("Host", "")
                standin.seen["token_scope"] = form.get("scope", "")
            fault = standin.token_fault
            if fault and fault.take():
                return self._send(fault.status, {"error": "temporarily_unavailable"})
            tenant = standin.tenants.get(graph_tenant_id)
            if tenant is None:
                return self._send(400, {"error": "invalid_request",
                                        "error_description": "AADSTS90002: Tenant not found"})
            if form.get("grant_type") != "client_credentials" or not str(form.get("scope", "")).endswith("/.default"):
                return self._send(400, {"error": "invalid_request", "error_description": "bad grant or scope"})
            if "client_assertion" in form:
                if not self._assertion_ok(tenant, form, graph_tenant_id):
                    return self._send(401, {"error": "invalid_client",
                                            "error_description": "AADSTS700027: Client assertion failed"})
            elif form.get("client_id") != tenant.client_id or form.get("client_secret") != tenant.client_secret:
                return self._send(401, {"error": "invalid_client",
                                        "error_description": "AADSTS7000215: Invalid client secret provided."})
            token = secrets.token_urlsafe(32)
            with standin.lock:
                standin.tokens[token] = (graph_tenant_id, time.time() + standin.token_lifetime)
                standin.issued_tokens.append(token)
                _ALL_ISSUED.append(token)
            self._send(200, {"token_type": "Bearer", "expires_in": standin.token_lifetime, "access_token": token})

        def _assertion_ok(self, tenant: StandInTenant, form: dict[str, str], graph_tenant_id: str) -> bool:
            import base64
            import hashlib

            import jwt
            from cryptography import x509
            from cryptography.hazmat.primitives import serialization

            if not tenant.certificate_pem or form.get("client_assertion_type") != (
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
                return False
            cert = x509.load_pem_x509_certificate(tenant.certificate_pem.encode())
            der = cert.public_bytes(serialization.Encoding.DER)
            thumb = base64.urlsafe_b64encode(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1 by definition
            try:
                header = jwt.get_unverified_header(form["client_assertion"])
                claims = jwt.decode(form["client_assertion"], cert.public_key(),  # type: ignore[arg-type]
                                    algorithms=["RS256"],
                                    audience=f"{self._base()}/{graph_tenant_id}/oauth2/v2.0/token")
            except jwt.PyJWTError:
                return False
            return (header.get("x5t") == thumb.rstrip(b"=").decode() and claims.get("iss") == tenant.client_id
                    and claims.get("sub") == tenant.client_id and form.get("client_id") == tenant.client_id)

        def _auth(self) -> StandInTenant | None:
            header = self.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            with standin.lock:
                entry = standin.tokens.get(token)
            if entry is None or entry[1] < time.time():
                self._send(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is invalid"}})
                return None
            return standin.tenants[entry[0]]

        def _control(self, path: str, body: bytes) -> None:
            payload = json.loads(body or b"{}")
            if path == "/_standin/faults":
                if payload.get("clear"):
                    standin.clear_faults()
                else:
                    standin.set_fault(payload["policy_type"], Fault(
                        status=int(payload.get("status", 500)), times=payload.get("times"),
                        retry_after=payload.get("retry_after"), malformed=bool(payload.get("malformed")),
                        latency_ms=int(payload.get("latency_ms", 0))))
                return self._send(200, {"ok": True})
            if path == "/_standin/tenants":
                standin.add_tenant(payload["graph_tenant_id"], payload["client_id"], payload["client_secret"],
                                   payload.get("counts"))
                return self._send(200, {"ok": True})
            if path == "/_standin/config":
                standin.latency_ms = int(payload.get("latency_ms", standin.latency_ms))
                if "batch_item_ms" in payload:
                    standin.batch_item_ms = payload["batch_item_ms"]
                if "window_limit" in payload:
                    standin.window_limit = payload["window_limit"]
                standin.window_seconds = float(payload.get("window_seconds", standin.window_seconds))
                return self._send(200, {"ok": True})
            if path == "/_standin/mutate":
                gid = payload["graph_tenant_id"]
                for key, index in payload.get("remove", []):
                    standin.remove_item(gid, key, index)
                for key, n in payload.get("add", {}).items():
                    standin.add_items(gid, key, n)
                for key, index in payload.get("modify", []):
                    standin.modify_item(gid, key, index)
                for key, index in payload.get("reassign", []):
                    standin.reassign_item(gid, key, index)
                if payload.get("touch"):
                    standin.touch(gid)
                return self._send(200, {"ok": True})
            self._send(404, {"error": "unknown control"})

        def _get(self, tenant: StandInTenant, path: str, query: dict[str, list[str]], in_batch: bool = False
                 ) -> tuple[int, Any, dict[str, str], bytes | None]:
            if not in_batch:  # a $batch's sub-requests were admitted (or refused) by the batch
                retry_after = standin.admit(tenant)
                if retry_after:
                    return 429, {"error": {"code": "TooManyRequests", "message": "window limit"}}, {
                        "Retry-After": str(math.ceil(retry_after))}, None
            standin._bump("graph_requests")
            with standin.lock:
                standin.seen["graph_host"] = self.headers.get("Host", "")
                if standin.trace is not None:
                    standin.trace.append(path)
            if standin.latency_ms and not in_batch:  # a $batch costs its own time (batch_cost_ms)
                time.sleep(standin.latency_ms / 1000)
            version, _, rest = path.lstrip("/").partition("/")
            if version not in ("beta", "v1.0"):
                return 404, {"error": {"code": "BadRequest", "message": "Invalid version"}}, {}, None
            rest = "/" + rest
            ptype, item_id, below = self._route(rest)
            if ptype is None:
                return 404, {"error": {"code": "ResourceNotFound", "message": f"Resource not found: {rest}"}}, {}, None
            if ptype.key in tenant.refused:  # this tenant's app lacks the type's permission
                standin._bump("fault_403")
                return 403, {"error": {"code": "Authorization_RequestDenied",
                                       "message": "Insufficient privileges to complete the operation."}}, {}, None
            fault = standin.faults.get(ptype.key)
            if fault and fault.take():
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.malformed:
                    return 200, None, {}, b'{"value": [ {"id": "broken'
                if fault.status < 400:
                    fault = None
                else:
                    standin._bump(f"fault_{fault.status}")
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                    error = {"error": {"code": "Fault", "message": f"scripted {fault.status}"}}
                    return fault.status, error, headers, None
            if item_id is None:
                return self._list(tenant, ptype, rest, query, version)
            index = self._index_of(tenant, ptype, item_id)
            if index is None:
                return 404, {"error": {"code": "ResourceNotFound", "message": "item not found"}}, {}, None
            revision = standin.below_revision(tenant, ptype.key, index)
            if below == ["assignments"] and ptype.assignments is not Assignments.NONE:
                return 200, {"value": standin.assignments(tenant, ptype.key, index)}, {}, None
            if below == ["settings"] and ptype.key in ("settingsCatalogPolicy", "compliancePolicy"):
                total = standin.settings_count(index)
                skip = int(query.get("$skiptoken", ["0"])[0])
                top = max(1, min(int(query.get("$top", [str(SETTINGS_PAGE)])[0]), SETTINGS_MAX_TOP))
                values = [standin.setting(ptype, index, n, revision) for n in range(skip, min(total, skip + top))]
                body: dict[str, Any] = {"@odata.context": f"{self._base()}/{version}/$metadata#settings",
                                        "value": values}
                if skip + top < total:
                    body["@odata.nextLink"] = (f"{self._base()}/{version}{rest}?"
                                               + urlencode({"$top": top, "$skiptoken": skip + top}))
                quirk = standin.quirks.get(ptype.key)
                if quirk is not None and quirk.below:
                    return self._quirky(quirk, body, version, rest, query)
                return 200, body, {}, None
            if below:
                below_expand = query.get("$expand", [""])[0]
                if below_expand and (below[-1], below_expand) not in _BELOW_EXPANDS:
                    return 400, {"error": {"code": "BadRequest", "message": "$expand is not supported here"}}, {}, None
                found = standin.below(tenant, ptype, index, below)
                if found is None:
                    return 400, {"error": {"code": "BadRequest", "message": "unsupported segment"}}, {}, None
                return 200, {"@odata.context": f"{self._base()}/{version}/$metadata#{below[-1]}",
                             "value": found}, {}, None
            expand = {e for e in query.get("$expand", [""])[0].split(",") if e}
            allowed = {"items", "assignments"} if ptype.key == "policySet" else set()
            if expand - allowed:
                return 400, {"error": {"code": "BadRequest", "message": "$expand is not supported here"}}, {}, None
            item = standin.item(tenant, ptype, index, expand=False)
            if "items" in expand:
                item["items"] = standin.policy_set_items(tenant, index)
            if "assignments" in expand:
                item["assignments"] = standin.assignments(tenant, ptype.key, index)
            return 200, item, {}, None

        def _route(self, rest: str) -> tuple[PolicyType | None, str | None, list[str]]:
            """(type, object id, the path below the object)."""
            for collection, ptype in sorted(collections.items(), key=lambda c: -len(c[0])):
                if rest == collection:
                    return ptype, None, []
                if rest.startswith(collection + "/"):
                    tail = rest[len(collection) + 1:].split("/")
                    return ptype, tail[0], tail[1:]
            return None, None, []

        def _index_of(self, tenant: StandInTenant, ptype: PolicyType, item_id: str) -> int | None:
            """ids are uuid5 of the index: one map per tenant and type, extended as objects are added (the
            stand-in's own CPU must not be what a benchmark measures); whether it exists now is asked live."""
            with standin.lock:
                ids = standin.id_index.setdefault((tenant.graph_tenant_id, ptype.key), {})
                for index in range(len(ids), tenant.total(ptype.key)):
                    ids[standin.item_id(tenant.graph_tenant_id, ptype.key, index)] = index
            found = ids.get(item_id)
            return found if found is not None and tenant.exists(ptype.key, found) else None

        def _list(self, tenant: StandInTenant, ptype: PolicyType, rest: str, query: dict[str, list[str]],
                  version: str) -> tuple[int, Any, dict[str, str], bytes | None]:
            expand = query.get("$expand", [""])[0]
            if expand and (expand != "assignments" or ptype.assignments is not Assignments.EXPAND):
                return 400, {"error": {"code": "BadRequest", "message": "$expand is not supported here"}}, {}, None
            top = max(1, min(int(query.get("$top", [str(DEFAULT_TOP)])[0]), MAX_TOP))
            skip = int(query.get("$skiptoken", ["0"])[0])
            builtin_filter = query.get("$filter", [""])[0] == "isBuiltIn eq false"
            total = tenant.total(ptype.key)
            page: list[dict[str, Any]] = []
            index = skip
            while index < total and len(page) < top:
                if tenant.exists(ptype.key, index) and not (builtin_filter and index == 0):
                    page.append(standin.item(tenant, ptype, index, expand=bool(expand), detail=False))
                index += 1
            body: dict[str, Any] = {"@odata.context": f"{self._base()}/{version}/$metadata#{ptype.key}",
                                    "value": page}
            params = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            if index < total:
                body["@odata.nextLink"] = f"{self._base()}/{version}{rest}?" + urlencode(
                    {**params, "$skiptoken": str(index)})
            quirk = standin.quirks.get(ptype.key)
            if quirk is None or quirk.below:
                return 200, body, {}, None
            if quirk.mode == "cycle" and skip > 0:
                body["@odata.nextLink"] = f"{self._base()}/{version}{rest}?" + urlencode({**params, "$skiptoken": "0"})
            if quirk.mode == "duplicate_id" and skip > 0 and page:
                page[0] = standin.item(tenant, ptype, 0, expand=bool(expand), detail=False)
            return self._quirky(quirk, body, version, rest, query)

        def _quirky(self, quirk: Quirk, body: dict[str, Any], version: str, rest: str,
                    query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str], bytes | None]:
            page = body["value"]
            here = f"{self._base()}/{version}{rest}?" + urlencode({k: v[0] for k, v in query.items()})
            if quirk.mode == "foreign_next_link":
                body["@odata.nextLink"] = f"{quirk.target}/{version}{rest}?$skiptoken=1&leak=check"
            elif quirk.mode == "self_next_link":
                body["@odata.nextLink"] = here
            elif quirk.mode == "html":
                return 200, None, {"Content-Type": "text/html"}, b"<html><body>Sign in to continue</body></html>"
            elif quirk.mode == "value_not_list":
                body["value"] = {"id": "not-a-list"}
            elif quirk.mode == "missing_id" and page:
                del page[0]["id"]
            elif quirk.mode == "huge_item" and page:
                page[-1]["notes"] = "x" * quirk.size
            return 200, body, {}, None

        def _batch(self, tenant: StandInTenant, body: bytes) -> None:
            standin._bump("batch_requests")
            try:
                requests = json.loads(body)["requests"]
            except (ValueError, KeyError, TypeError):
                return self._send(400, {"error": {"code": "BadRequest", "message": "invalid batch"}})
            if len(requests) > 20:
                return self._send(400, {"error": {"code": "BadRequest", "message": "more than 20 requests"}})
            started = time.monotonic()
            responses = []
            for sub in requests:
                retry_after = standin.admit(tenant)
                if retry_after:  # each sub-request counts against the window; the refused ones say when to retry
                    responses.append({"id": sub["id"], "status": 429,
                                      "headers": {"Retry-After": str(math.ceil(retry_after))},
                                      "body": {"error": {"code": "TooManyRequests", "message": "window limit"}}})
                    continue
                parts = urlsplit(sub["url"])
                status, sub_body, headers, raw = self._get(tenant, "/beta" + parts.path, parse_qs(parts.query),
                                                           in_batch=True)
                responses.append({"id": sub["id"], "status": status, "headers": headers,
                                  "body": sub_body if raw is None else {}})
            cost = standin.batch_cost_ms(len(requests)) / 1000 - (time.monotonic() - started)
            if cost > 0:  # its latency plus its sub-requests' server time, less what building them took
                time.sleep(cost)
            self._send(200, {"responses": responses})

    return Handler


def main() -> None:  # pragma: no cover - manual use and benchmarks (its own process: its own GIL)
    import argparse

    parser = argparse.ArgumentParser(description="Microsoft Graph stand-in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--batch-item-ms", type=float, default=None, help="per $batch sub-request (default latency/20)")
    parser.add_argument("--window-limit", type=int, default=None, help="requests per tenant per 20 s (Intune: 1000)")
    args = parser.parse_args()
    standin = GraphStandIn(port=args.port, latency_ms=args.latency_ms).start()
    standin.batch_item_ms, standin.window_limit = args.batch_item_ms, args.window_limit
    standin.add_tenant("contoso.onmicrosoft.com", "demo-client", "demo-secret")
    print(f"Graph stand-in on {standin.base_url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["BY_KEY", "Fault", "Quirk", "GraphStandIn", "StandInTenant", "demo_counts", "large_counts"]
