"""What changed in an item between two syncs (pure): the kind of change, the RFC 6902 JSON Patch from the
previous configuration to the new one, and the dependency links added and removed.

The patch keeps what it replaces: a `test` operation with the earlier value precedes each `replace`, `remove`
and `move` (RFC 6902 §4.6), so the patch still applies to the previous configuration and a reader can show
"old → new". `entries_of` reads a patch that way."""

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
    """JSON Patch over the configuration only (what `content_hash` covers): noise never shows up in a diff.
    An operation inside a named setting carries its name as `setting` (RFC 6902 §4: members an operation does
    not define are ignored by whoever applies it)."""
    patch: list[dict[str, Any]] = []
    _diff(configuration_of(ptype, previous), configuration_of(ptype, new), "", patch, None)
    return patch


_KEEPS_OLD = ("remove", "replace", "move")


def entries_of(patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The patch as "where: old → new", one entry per operation other than `test`. The earlier value comes from
    the `test` operation just before it on the same path; without one (records written before the earlier
    values were kept) a replaced or removed value is `not_recorded`."""
    entries: list[dict[str, Any]] = []
    tested: dict[str, Any] | None = None
    for op in patch:
        kind = op.get("op")
        if kind == "test":
            tested = op
            continue
        where = op.get("from") if kind == "move" else op.get("path")
        known = tested is not None and tested.get("path") == where
        old = ("value" if known else "not_recorded") if kind in _KEEPS_OLD else "absent"
        entry: dict[str, Any] = {"op": kind, "path": op.get("path", ""), "from_path": op.get("from"),
                                 "setting": op.get("setting"),
                                 "old": old, "old_value": tested.get("value") if known and tested else None,
                                 "new": "absent" if kind == "remove" else "value", "new_value": op.get("value")}
        if kind == "move":  # the value itself did not change: it is where it was
            entry["new_value"] = entry["old_value"]
        entries.append(entry)
        tested = None
    return entries


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")  # RFC 6901


def _name_of(value: Any) -> str | None:
    """The name a payload gives the setting `value` is: a settings-catalog instance's `settingDefinitionId` (the
    setting's own, or its instance's), an administrative template value's `definition.displayName`."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("settingInstance"), dict):  # a catalog setting: named by its instance
        value = value["settingInstance"]
    definition_id = value.get("settingDefinitionId")
    if isinstance(definition_id, str) and definition_id:
        return definition_id
    definition = value.get("definition")
    name = definition.get("displayName") if isinstance(definition, dict) else None
    return name if isinstance(name, str) and name else None


def _op(patch: list[dict[str, Any]], op: dict[str, Any], setting: str | None) -> None:
    patch.append({**op, "setting": setting} if setting else op)


def _diff(previous: Any, new: Any, path: str, patch: list[dict[str, Any]], setting: str | None) -> None:
    """Equal subtrees are skipped at C speed; objects and same-length arrays are walked key by key / index by
    index (each operation then touches a part no other one does); arrays that grew or shrank are left to
    jsonpatch, which finds the insertions, removals and moves."""
    if previous == new:
        return
    if isinstance(previous, dict) and isinstance(new, dict):
        setting = _name_of(new) or _name_of(previous) or setting
        for key in previous:
            if key not in new:
                patch.append({"op": "test", "path": path + _pointer(key), "value": previous[key]})
                _op(patch, {"op": "remove", "path": path + _pointer(key)}, _name_of(previous[key]) or setting)
        for key, value in new.items():
            if key in previous:
                _diff(previous[key], value, path + _pointer(key), patch, setting)
            else:
                _op(patch, {"op": "add", "path": path + _pointer(key), "value": value}, _name_of(value) or setting)
    elif isinstance(previous, list) and isinstance(new, list) and len(previous) == len(new):
        for index, (before, after) in enumerate(zip(previous, new, strict=True)):
            _diff(before, after, f"{path}/{index}", patch, setting)
    elif isinstance(previous, list) and isinstance(new, list):
        _diff_list(previous, new, path, patch, setting)
    else:
        patch.append({"op": "test", "path": path, "value": previous})
        _op(patch, {"op": "replace", "path": path, "value": new}, setting)


def _name_along(document: Any, pointer: str, setting: str | None) -> str | None:
    """The innermost setting name on the way down `pointer` (RFC 6901) into `document`."""
    node = document
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            break
        setting = _name_of(node) or setting
    return setting


def _diff_list(previous: list[Any], new: list[Any], path: str, patch: list[dict[str, Any]],
               setting: str | None) -> None:
    """jsonpatch finds the insertions, removals and moves; its operations are applied in turn to a copy of the
    previous list, so each earlier value (and setting name) is read where the operation finds it (indexes shift
    as they apply)."""
    import copy

    import jsonpatch  # here only: dispatch and finalize import this module for ChangeKind, never diff

    current = copy.deepcopy(previous)
    for op in jsonpatch.make_patch(previous, new):
        where = op["from"] if op["op"] == "move" else op["path"]
        name = _name_of(op.get("value")) or _name_along(current, where, setting)
        if op["op"] in _KEEPS_OLD:
            old = jsonpatch.JsonPointer(where).resolve(current)
            patch.append({"op": "test", "path": path + where, "value": copy.deepcopy(old)})
        current = jsonpatch.apply_patch(current, [op], in_place=True)
        op["path"] = path + op["path"]
        if "from" in op:
            op["from"] = path + op["from"]
        _op(patch, op, name)


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

