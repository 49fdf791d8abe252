"""Queue message shapes, an external interface (docs/architecture.md §3): RunQueue and FinalizeQueue
bodies, version 1."""

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inventory_sync.domain.selection import Selection

Id = Field(gt=0, le=2**63 - 1)


class RunMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: Literal[1]
    bulk_operation_run_id: int = Id
    tenant_id: int = Id
    user_id: int | None = Field(gt=0, le=2**63 - 1)
    selection: Selection
    selection_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    trigger: Literal["api", "schedule"]
    correlation_id: str = Field(min_length=1, max_length=200)
    dispatched_at: datetime
    # "full" reads every object below its listing; absent or "incremental": only those whose markers moved
    read_mode: Literal["full", "incremental"] | None = None

    @model_validator(mode="after")
    def _hash_matches(self) -> Self:
        if self.selection.hash != self.selection_hash:
            raise ValueError("selection_hash does not match selection")
        return self


class FinalizeMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: Literal[1]
    inventory_sync_run_id: int | None = Field(gt=0, le=2**63 - 1)
    bulk_operation_run_id: int = Id


class ScheduledSyncEvent(BaseModel):
    """The sync schedule's constant input (docs/architecture.md §3)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["scheduled_inventory_sync"]
    selection: dict[str, object] = Field(default_factory=dict)


class SweepEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["sweep"]


def is_scheduled_envelope(event: object) -> bool:
    """The plain EventBridge "Scheduled Event" envelope (no constant input configured)."""
    return (isinstance(event, dict) and event.get("detail-type") == "Scheduled Event"
            and event.get("source") in ("aws.events", "aws.scheduler"))


def is_http_event(event: object) -> bool:
    return (isinstance(event, dict) and event.get("version") == "2.0"
            and isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"])
