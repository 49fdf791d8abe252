"""Scheduled dispatch: which selection a schedule event asks for."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from inventory_sync.domain.messages import ScheduledSyncEvent, is_scheduled_envelope
from inventory_sync.domain.registry import RuntimeRegistry
from inventory_sync.domain.selection import ResolvedSelection, SelectionRequest, full_inventory, normalise


class BadScheduleEvent(ValueError):
    """Not a schedule event this function knows; nothing is dispatched."""


def selection_of(event: Any, registry: RuntimeRegistry) -> ResolvedSelection:
    if is_scheduled_envelope(event):
        return full_inventory(registry)
    try:
        parsed = ScheduledSyncEvent.model_validate(event)
        request = SelectionRequest.model_validate(parsed.selection)
    except ValidationError as exc:
        raise BadScheduleEvent(f"unsupported event: {exc.error_count()} validation error(s)") from None
    return normalise(request, registry)
