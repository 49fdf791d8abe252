"""events/*.json are current and each is accepted by its function's parser."""

from __future__ import annotations

import json
from pathlib import Path

from inventory_sync.domain.messages import (
    FinalizeMessage,
    RunMessage,
    ScheduledSyncEvent,
    SweepEvent,
    is_http_event,
    is_scheduled_envelope,
)
from invsync_dev import sample_events

ROOT = Path(__file__).resolve().parents[2]


def test_committed_events_match_the_generator() -> None:
    for name, event in sample_events.events().items():
        assert json.loads((ROOT / "events" / name).read_text()) == event, f"regenerate events/{name}"
    env = json.loads((ROOT / "env.json").read_text())
    assert set(env) == {"DispatchFunction", "RunSyncFunction", "FinalizeFunction"}


def test_every_trigger_has_an_event_its_function_accepts() -> None:
    events = {p.name: json.loads(p.read_text()) for p in (ROOT / "events").glob("*.json")}
    assert is_http_event(events["dispatch_api_post_sync.json"])
    assert events["dispatch_api_post_sync.json"]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    ScheduledSyncEvent.model_validate(events["dispatch_scheduled.json"])
    assert is_scheduled_envelope(events["dispatch_scheduled_envelope.json"])
    RunMessage.model_validate_json(events["run_sync_sqs.json"]["Records"][0]["body"])
    FinalizeMessage.model_validate_json(events["finalize_sqs.json"]["Records"][0]["body"])
    RunMessage.model_validate_json(events["finalize_dlq.json"]["Records"][0]["body"])
    SweepEvent.model_validate(events["finalize_sweep.json"])
