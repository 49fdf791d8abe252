"""What changed in an item between two syncs (pure): the kind of change, the RFC 6902 JSON Patch from the
previous configuration to the new one, and the dependency links added and removed."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import jsonpatch

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
    return list(jsonpatch.make_patch(configuration_of(ptype, previous), configuration_of(ptype, new)))


def _as_dict(link: Link) -> dict[str, Any]:
    return {"link_type": link.link_type, "target_type": link.target_type, "target_id": link.target_id,
            "properties": link.properties}


def link_changes(previous: list[Link], new: list[Link]) -> dict[str, list[dict[str, Any]]]:
    def key(link: Link) -> tuple:
        return link.link_type, link.target_type, link.target_id, link.key, sorted(link.properties.items())

    before = {str(key(link)): link for link in previous}
    after = {str(key(link)): link for link in new}
    return {"added": [_as_dict(after[k]) for k in after if k not in before],
            "removed": [_as_dict(before[k]) for k in before if k not in after]}

