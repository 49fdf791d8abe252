"""What an inventory row and its dependency links are, derived from a Graph object (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from inventory_sync.domain.registry import PolicyType

NO_FILTER = "00000000-0000-0000-0000-000000000000"
_TARGETS = {
    "#microsoft.graph.groupAssignmentTarget": "group",
    "#microsoft.graph.exclusionGroupAssignmentTarget": "exclusionGroup",
    "#microsoft.graph.allDevicesAssignmentTarget": "allDevices",
    "#microsoft.graph.allLicensedUsersAssignmentTarget": "allLicensedUsers",
}
_PLATFORMS = (("windows", "windows"), ("win32", "windows"), ("ios", "ios"), ("iphone", "ios"), ("macos", "macOS"),
              ("android", "android"), ("aosp", "android"), ("linux", "linux"))


@dataclass(frozen=True)
class Link:
    link_type: str
    target_type: str
    target_id: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemRecord:
    policy_type: str
    external_id: str
    display_name: str | None
    category: str
    platform: str | None
    payload: dict[str, Any]
    payload_json: str  # canonical JSON (sorted keys): hashed once, stored as is
    content_hash: str
    links: tuple[Link, ...]


class InvalidItem(ValueError):
    """A Graph object without an id cannot be inventoried."""


def canonical_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _platform(item: dict[str, Any]) -> str | None:
    hints = [str(item.get("platforms") or ""), str(item.get("@odata.type") or ""), str(item.get("platform") or "")]
    text = " ".join(hints).lower()
    for needle, platform in _PLATFORMS:
        if needle in text:
            return platform
    return None


def _category(ptype: PolicyType, item: dict[str, Any]) -> str:
    family = str((item.get("templateReference") or {}).get("templateFamily") or "")
    if ptype.key == "settingsCatalogPolicy" and family.startswith("endpointSecurity"):
        return "Endpoint Security"
    return ptype.category


def links_of(item: dict[str, Any]) -> tuple[Link, ...]:
    links: dict[tuple[str, str, str], Link] = {}
    for assignment in item.get("assignments") or []:
        target = assignment.get("target") if isinstance(assignment, dict) else None
        if not isinstance(target, dict):
            continue
        kind = _TARGETS.get(str(target.get("@odata.type")), str(target.get("@odata.type", "unknown")).split(".")[-1])
        target_id = str(target.get("groupId") or "")
        filter_id = target.get("deviceAndAppManagementAssignmentFilterId")
        filter_type = target.get("deviceAndAppManagementAssignmentFilterType") or "none"
        has_filter = bool(filter_id) and filter_id != NO_FILTER and filter_type != "none"
        props = {"intent": assignment.get("intent")} if assignment.get("intent") else {}
        if has_filter:
            props |= {"filter_id": filter_id, "filter_type": filter_type}
        links[("assignment", kind, target_id)] = Link("assignment", kind, target_id, props)
        if has_filter:
            links[("assignment_filter", "assignmentFilter", str(filter_id))] = Link(
                "assignment_filter", "assignmentFilter", str(filter_id), {"filter_type": filter_type})
    for tag in item.get("roleScopeTagIds") or []:
        links[("scope_tag", "roleScopeTag", str(tag))] = Link("scope_tag", "roleScopeTag", str(tag))
    return tuple(links.values())


def to_record(ptype: PolicyType, item: dict[str, Any]) -> ItemRecord:
    external_id = item.get("id")
    if not isinstance(external_id, str) or not external_id:
        raise InvalidItem(f"{ptype.key}: object without an id")
    name = item.get("displayName") or item.get("name")
    text = canonical_json(item)
    return ItemRecord(
        policy_type=ptype.key, external_id=external_id, display_name=str(name)[:500] if name else None,
        category=_category(ptype, item), platform=_platform(item), payload=item, payload_json=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(), links=links_of(item),
    )
