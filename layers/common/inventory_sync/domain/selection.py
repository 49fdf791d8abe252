"""Selection rules: what a sync covers, its normalised form and its hash (docs/architecture.md §5)."""

import functools
import hashlib
import json
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from inventory_sync.domain.registry import CATEGORIES, POLICY_TYPES, RuntimeRegistry

MAX_LIST = 200


class SelectionRequest(BaseModel):
    """What a caller may ask for; every field optional (empty = full inventory)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    policy_types: list[str] | None = Field(default=None, max_length=MAX_LIST)
    categories: list[str] | None = Field(default=None, max_length=MAX_LIST)
    include_foundations: bool | None = None
    include_dependencies: bool | None = None
    # not part of the selection (nor of its hash): how this one run reads ("incremental" by default)
    read_mode: Literal["full", "incremental"] | None = None


class Selection(BaseModel):
    """The normalised selection: always explicit, sorted, unique."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    policy_types: list[str]
    categories: list[str]
    include_foundations: bool
    include_dependencies: bool

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))

    @functools.cached_property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class SelectionError(ValueError):
    """The selection names unknown keys, or nothing is left to sync."""

    def __init__(self, detail: str, errors: list[dict[str, object]]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class ResolvedSelection(NamedTuple):
    selection: Selection
    ignored_policy_types: list[str]

    @property
    def selection_hash(self) -> str:
        return self.selection.hash


def normalise(request: SelectionRequest, registry: RuntimeRegistry) -> ResolvedSelection:
    """Validate against the registry and produce the explicit selection.

    Unknown keys or categories raise SelectionError listing the valid ones; known but
    runtime-disabled types are dropped and reported; categories restrict the types.
    """
    valid_types = [t.key for t in POLICY_TYPES]
    errors: list[dict[str, object]] = []
    requested = sorted(set(request.policy_types)) if request.policy_types else None
    categories = sorted(set(request.categories or []))
    # where the unknown entries are, not what they say: an error never echoes the caller's input
    unknown = [i for i, k in enumerate(request.policy_types or []) if k not in valid_types]
    if unknown:
        errors.append({"field": "policy_types", "message": f"{len(unknown)} unknown policy type(s)",
                       "positions": unknown, "valid": sorted(valid_types)})
    unknown_categories = [i for i, c in enumerate(request.categories or []) if c not in CATEGORIES]
    if unknown_categories:
        errors.append({"field": "categories", "message": f"{len(unknown_categories)} unknown category(ies)",
                       "positions": unknown_categories, "valid": list(CATEGORIES)})
    if errors:
        raise SelectionError("the selection names unknown policy types or categories", errors)

    candidates = requested if requested is not None else [t.key for t in POLICY_TYPES]
    ignored = [k for k in candidates if not registry.is_enabled(k)] if requested is not None else []
    chosen = [k for k in candidates if registry.is_enabled(k)]
    if categories:
        by_key = {t.key: t for t in POLICY_TYPES}
        chosen = [k for k in chosen if set(by_key[k].categories) & set(categories)]
    if not chosen:
        raise SelectionError("nothing left to sync: no enabled policy type matches the selection", [
            {"field": "policy_types", "message": "no enabled policy type matches",
             "ignored": ignored, "valid": sorted(t.key for t in registry.enabled_policy_types)}])

    selection = Selection(
        policy_types=sorted(chosen),
        categories=categories,
        include_foundations=True if request.include_foundations is None else request.include_foundations,
        include_dependencies=True if request.include_dependencies is None else request.include_dependencies,
    )
    return ResolvedSelection(selection, sorted(ignored))


def full_inventory(registry: RuntimeRegistry) -> ResolvedSelection:
    return normalise(SelectionRequest(), registry)
