"""What an inventory row and its dependency links are, derived from a Graph object (pure)."""

import hashlib
from typing import Any, NamedTuple

from inventory_sync.domain import configuration
from inventory_sync.domain.configuration import ASSIGNMENTS, canonical_json
from inventory_sync.domain.registry import BY_KEY, ENDPOINT_SECURITY, Assignments, PolicyType

NO_FILTER = "00000000-0000-0000-0000-000000000000"

# Assignment target kinds (`@odata.type` without its namespace) → (target_type, id field). A Cloud PC
# management group is an Entra group; the link keeps which kind of target carried it.
_TARGETS: dict[str, tuple[str, str | None]] = {
    "groupAssignmentTarget": ("group", "groupId"),
    "exclusionGroupAssignmentTarget": ("exclusionGroup", "groupId"),
    "allDevicesAssignmentTarget": ("allDevices", None),
    "allLicensedUsersAssignmentTarget": ("allLicensedUsers", None),
    "configurationManagerCollectionAssignmentTarget": ("configurationManagerCollection", "collectionId"),
    "cloudPcManagementGroupAssignmentTarget": ("group", "groupId"),
    # a scope tag's group (its users' or its devices' objects get the tag): `entraObjectId`, `targetType`
    "scopeTagGroupAssignmentTarget": ("group", "entraObjectId"),
}
# Policy set members: the policySetItem subtype → the registry key of the member it points at.
_SET_MEMBERS: dict[str, str] = {
    "deviceConfigurationPolicySetItem": "deviceConfiguration",
    "deviceCompliancePolicyPolicySetItem": "deviceCompliancePolicy",
    "deviceManagementConfigurationPolicyPolicySetItem": "settingsCatalogPolicy",
    "deviceManagementScriptPolicySetItem": "deviceManagementScript",
    "mobileAppPolicySetItem": "mobileApp",
    "mobileAppConfigurationPolicySetItem": "mobileAppConfiguration",
    "targetedManagedAppConfigurationPolicySetItem": "targetedManagedAppConfiguration",
    "windowsAutopilotDeploymentProfilePolicySetItem": "windowsAutopilotDeploymentProfile",
    "enrollmentRestrictionsConfigurationPolicySetItem": "deviceEnrollmentConfiguration",
}
# Members whose subtype covers several registry types say which one in `itemType`
# (`managedAppProtectionPolicySetItem`: `#microsoft.graph.iosManagedAppProtection`, ...): the member's own
# type, a registry key or a subtype of one.
_MEMBER_ITEM_TYPES: dict[str, str] = {
    "windows10EnrollmentCompletionPageConfiguration": "deviceEnrollmentConfiguration",
    "deviceEnrollmentLimitConfiguration": "deviceEnrollmentConfiguration",
    "deviceEnrollmentPlatformRestrictionsConfiguration": "deviceEnrollmentConfiguration",
    "mdmWindowsInformationProtectionPolicy": "windowsInformationProtectionPolicy",
}
_KNOWN_NAMES = {name.lower(): name for name in (*_TARGETS, *_SET_MEMBERS, *BY_KEY, *_MEMBER_ITEM_TYPES)}
# Links that come from the object's own configuration; the rest come from its assignments.
CONTENT_LINK_TYPES = frozenset({"scope_tag", "policy_set_item"})
_PLATFORMS = (("windows", "windows"), ("win32", "windows"), ("ios", "ios"), ("iphone", "ios"), ("macos", "macOS"),
              ("android", "android"), ("aosp", "android"), ("linux", "linux"))
_SECURITY_FAMILIES = ("endpointSecurity", "baseline")


class Link(NamedTuple):
    link_type: str
    target_type: str
    target_id: str
    properties: dict[str, Any]
    # what tells two links to the same target apart (intent, source, filter): part of the row's identity
    key: str = ""


class ItemRecord(NamedTuple):
    policy_type: str
    external_id: str
    display_name: str | None
    category: str
    platform: str | None
    payload: dict[str, Any]
    payload_json: str  # canonical JSON (sorted keys), stored as is
    payload_hash: str  # of the payload without its assignments: refreshes a row whose noise changed
    content_hash: str  # of the configuration only (domain/configuration.py)
    assignments_hash: str | None  # None: assignments not read by this sync (links and hash stay as they are)
    links: tuple[Link, ...]

    @property
    def assignments_read(self) -> bool:
        return self.assignments_hash is not None


class InvalidItem(ValueError):
    """A Graph object that cannot be inventoried; `reason` names the kind of defect (no message echoes data)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def type_name(odata_type: Any) -> str:
    """`#microsoft.graph.groupAssignmentTarget`, `microsoft.graph.GroupAssignmentTarget` → `groupAssignmentTarget`
    (the known spelling, whatever the case or the leading `#`; unknown names as given, without namespace)."""
    name = str(odata_type or "").lstrip("#").rsplit(".", 1)[-1]
    return _KNOWN_NAMES.get(name.lower(), name)


def _platform(item: dict[str, Any]) -> str | None:
    hints = [str(item.get("platforms") or ""), str(item.get("@odata.type") or ""), str(item.get("platform") or "")]
    text = " ".join(hints).lower()
    for needle, platform in _PLATFORMS:
        if needle in text:
            return platform
    return None


def category_of(ptype: PolicyType, item: dict[str, Any]) -> str:
    """Settings-catalog endpoint-security templates and baselines sit with the legacy intents (endpoint
    security and security baselines alike): one category for what an administrator sees as one."""
    template = item.get("templateReference")
    family = str(template.get("templateFamily") or "") if isinstance(template, dict) else ""
    if ptype.key == "settingsCatalogPolicy" and family.startswith(_SECURITY_FAMILIES):
        return ENDPOINT_SECURITY
    return ptype.category


def assignment_links(assignments: list[Any]) -> list[Link]:
    """One link per assignment (kind, target, intent, filter, source), and one per filter referenced."""
    links: list[Link] = []
    for assignment in assignments:
        target = assignment.get("target") if isinstance(assignment, dict) else None
        if not isinstance(target, dict):
            continue
        name = type_name(target.get("@odata.type"))
        kind, id_field = _TARGETS.get(name, (name or "unknown", None))
        target_id = str(target.get(id_field) or "") if id_field else str(target.get("groupId") or "")
        props: dict[str, Any] = {"target": name}
        if name == "cloudPcManagementGroupAssignmentTarget" and target.get("servicePlanId"):
            props["service_plan_id"] = target["servicePlanId"]
        if name == "scopeTagGroupAssignmentTarget" and target.get("targetType"):
            props["target_type"] = target["targetType"]  # user | device: whose objects in the group
        for graph_field, prop in (("intent", "intent"), ("source", "source"), ("sourceId", "source_id")):
            if assignment.get(graph_field):
                props[prop] = assignment[graph_field]
        filter_id = target.get("deviceAndAppManagementAssignmentFilterId")
        filter_type = target.get("deviceAndAppManagementAssignmentFilterType") or "none"
        if filter_id and filter_id != NO_FILTER and filter_type != "none":
            props |= {"filter_id": filter_id, "filter_type": filter_type}
            links.append(Link("assignment_filter", "assignmentFilter", str(filter_id), {"filter_type": filter_type},
                              key=str(filter_type)))
        identity = {k: props.get(k) for k in ("intent", "source", "source_id", "filter_id", "filter_type")}
        links.append(Link("assignment", kind, target_id, props,
                          key=";".join(f"{k}={v}" for k, v in identity.items() if v)))
    return links


def content_links(ptype: PolicyType, item: dict[str, Any]) -> list[Link]:
    """Scope tags (built-in ones marked: no foundation row stands behind them) and policy set members."""
    links: list[Link] = []
    tags = item.get(ptype.scope_tags_field)
    tag_type = BY_KEY["roleScopeTag"]
    for tag in tags if isinstance(tags, list) else []:
        tag_props: dict[str, Any] = {"built_in": True} if str(tag) in tag_type.built_in_ids else {}
        links.append(Link("scope_tag", tag_type.key, str(tag), tag_props))
    members = item.get("items") if "items" in ptype.item_expand else None
    for member in members if isinstance(members, list) else []:
        if not isinstance(member, dict) or not member.get("payloadId"):
            continue
        name = type_name(member.get("@odata.type"))
        props: dict[str, Any] = {"item_type": name}
        if member.get("intent"):
            props["intent"] = member["intent"]
        links.append(Link("policy_set_item", _member_type(name, member.get("itemType")), str(member["payloadId"]),
                          props))
    return links


def _member_type(name: str, item_type: Any) -> str:
    """The registry key a policy set member points at: by its subtype, else by its `itemType`."""
    if name in _SET_MEMBERS:
        return _SET_MEMBERS[name]
    of_item = type_name(item_type)
    if of_item in BY_KEY:
        return of_item
    return _MEMBER_ITEM_TYPES.get(of_item, name)


def change_marker(ptype: PolicyType, obj: dict[str, Any]) -> str | None:
    """The object's change markers as one comparable value (the listed object's, or a stored payload's);
    None when the type has none or the object shows none of them (it is then always read whole)."""
    if not ptype.change_markers:
        return None
    values = [obj.get(name) for name in ptype.change_markers]
    if all(v is None for v in values):
        return None
    return canonical_json(values)


def _unique(links: list[Link]) -> tuple[Link, ...]:
    seen: dict[tuple[str, str, str, str], Link] = {}
    for link in links:
        seen.setdefault((link.link_type, link.target_type, link.target_id, link.key), link)
    return tuple(seen.values())


def to_record(ptype: PolicyType, item: dict[str, Any], dependencies_read: bool = True,
              max_bytes: int | None = None) -> ItemRecord:
    """`dependencies_read`: this sync asked Graph for the object's assignments (an object that has none
    then has an empty list); otherwise any `assignments` key is ignored and the stored ones stay.
    An object whose JSON exceeds `max_bytes` is refused (InvalidItem)."""
    external_id = item.get("id")
    if not isinstance(external_id, str) or not external_id:
        raise InvalidItem("objects without an id", f"{ptype.key}: object without an id")
    name = item.get(ptype.name_field) or next((item[f] for f in ptype.name_fallbacks if item.get(f)), None)
    listed = item.get(ASSIGNMENTS)
    assignments: list[Any] = listed if isinstance(listed, list) else []
    links = content_links(ptype, item)
    read = dependencies_read and ptype.assignments is not Assignments.NONE
    if read:
        links += assignment_links(assignments)
    payload_json = canonical_json(item)
    if max_bytes is not None and len(payload_json) > max_bytes:
        raise InvalidItem(f"objects over {max_bytes} bytes", f"{ptype.key}: object over {max_bytes} bytes")
    if ASSIGNMENTS in item:
        payload_hash = configuration.sha256_of({k: v for k, v in item.items() if k != ASSIGNMENTS})
    else:
        payload_hash = hashlib.sha256(payload_json.encode()).hexdigest()
    return ItemRecord(
        policy_type=ptype.key, external_id=external_id, display_name=str(name)[:500] if name else None,
        category=category_of(ptype, item), platform=_platform(item), payload=item,
        payload_json=payload_json, payload_hash=payload_hash,
        content_hash=configuration.content_hash(ptype, item),
        assignments_hash=configuration.assignments_hash(assignments) if read else None,
        links=_unique(links),
    )
