"""What of a Graph object is its configuration, and the hashes that say whether it changed (pure).

The payload keeps the object whole. `content_hash` covers its configuration only: not OData control
annotations (`@odata.context`, `@odata.etag`, `assignments@odata.context`, ... — `@odata.type` is kept,
it says what the object is), not server-maintained fields (`SERVER_MAINTAINED`), not the type's
reporting fields (`PolicyType.not_configuration`), and not its assignments, which `assignments_hash`
covers apart so that a sync that did not read them changes neither hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from inventory_sync.domain.registry import SERVER_MAINTAINED, PolicyType, SubResource

ODATA_TYPE = "@odata.type"
ASSIGNMENTS = "assignments"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def is_control_annotation(key: str) -> bool:
    """OData control information: `@odata.x` and `property@odata.x`, except the object's own type."""
    return "@odata." in key and key != ODATA_TYPE


def _without_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_control(v) for k, v in value.items() if not is_control_annotation(k)}
    if isinstance(value, list):
        return [_without_control(v) for v in value]
    return value


def _element_configuration(element: Any, sub: SubResource) -> Any:
    if not isinstance(element, dict):
        return element
    drop = SERVER_MAINTAINED | sub.not_configuration
    kept: dict[str, Any] = {}
    for key, value in element.items():
        if key in drop or is_control_annotation(key):
            continue
        child = next((c for c in sub.children if c.key == key), None)
        if child is not None and isinstance(value, list):
            kept[key] = [_element_configuration(v, child) for v in value]
        elif isinstance(value, dict):
            # an expanded definition or presentation: Microsoft's catalogue entry, its server fields are noise
            kept[key] = {k: _without_control(v) for k, v in value.items()
                         if k not in SERVER_MAINTAINED and not is_control_annotation(k)}
        else:
            kept[key] = _without_control(value)
    return kept


def configuration_of(ptype: PolicyType, payload: dict[str, Any]) -> dict[str, Any]:
    """The object's configuration: what `content_hash` covers."""
    drop = SERVER_MAINTAINED | ptype.not_configuration | {ASSIGNMENTS}
    subs = {s.key: s for s in ptype.sub_resources}
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if key in drop or is_control_annotation(key):
            continue
        if key in subs and isinstance(value, list):
            kept[key] = [_element_configuration(v, subs[key]) for v in value]
        elif key in ptype.item_expand and isinstance(value, list):
            kept[key] = [_element_configuration(v, SubResource(key, key, not_configuration=ptype.not_configuration))
                         for v in value]
        else:
            kept[key] = _without_control(value)
    return kept


def content_hash(ptype: PolicyType, payload: dict[str, Any]) -> str:
    return sha256_of(configuration_of(ptype, payload))


def assignments_hash(assignments: list[Any]) -> str:
    """Order-free hash of the assignments as Graph returned them (control annotations left out)."""
    return sha256_of(sorted(canonical_json(_without_control(a)) for a in assignments))
