"""What changed in an item between two syncs (pure): the kind of change, the RFC 6902 JSON Patch from the
previous configuration to the new one, and the dependency links added and removed."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from inventory_sync.domain.configuration import configuration_of
from inventory_sync.domain.items import Link
from inventory_sync.domain.registry import PolicyType


class ChangeKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    DELETED = "deleted"
    RESTORED = "restored"  # listed again after it had been marked deleted


NO_CHANGES: dict[str, int] = {kind.value: 0 for kind in ChangeKind}  # a dispatch that never ran


def changes_between(ptype: PolicyType, previous: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch over the configuration only (what `content_hash` covers): noise never shows up in a diff."""
    patch: list[dict[str, Any]] = []
    _diff(configuration_of(ptype, previous), configuration_of(ptype, new), "", patch)
    return patch


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def _diff(previous: Any, new: Any, path: str, patch: list[dict[str, Any]]) -> None:
    """Equal subtrees are skipped at C speed; objects and same-length arrays are walked key by key / index by
    index (each operation then touches a part no other one does); arrays that grew or shrank are left to
    jsonpatch, which finds the insertions, removals and moves."""
    if previous == new:
        return
    if isinstance(previous, dict) and isinstance(new, dict):
        for key in previous:
            if key not in new:
                patch.append({"op": "remove", "path": path + _pointer(key)})
        for key, value in new.items():
            if key in previous:
                _diff(previous[key], value, path + _pointer(key), patch)
            else:
                patch.append({"op": "add", "path": path + _pointer(key), "value": value})
    elif isinstance(previous, list) and isinstance(new, list) and len(previous) == len(new):
        for index, (before, after) in enumerate(zip(previous, new, strict=True)):
            _diff(before, after, f"{path}/{index}", patch)
    elif isinstance(previous, list) and isinstance(new, list):
        import jsonpatch  # here only: dispatch and finalize import this module for ChangeKind, never diff

        for op in jsonpatch.make_patch(previous, new):
            op["path"] = path + op["path"]
            if "from" in op:
                op["from"] = path + op["from"]
            patch.append(op)
    else:
        patch.append({"op": "replace", "path": path, "value": new})


def _as_dict(link: Link) -> dict[str, Any]:
    return {"link_type": link.link_type, "target_type": link.target_type, "target_id": link.target_id,
            "properties": link.properties}


def link_changes(previous: list[Link], new: list[Link]) -> dict[str, list[dict[str, Any]]]:
    def key(link: Link) -> tuple[Any, ...]:
        return link.link_type, link.target_type, link.target_id, link.key, sorted(link.properties.items())

    before = {str(key(link)): link for link in previous}
    after = {str(key(link)): link for link in new}
    return {"added": [_as_dict(after[k]) for k in after if k not in before],
            "removed": [_as_dict(before[k]) for k in before if k not in after]}

