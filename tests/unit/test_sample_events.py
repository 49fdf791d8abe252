"""events/*.json are current and each is accepted by its function's parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inventory_sync.domain.messages import (
    FinalizeMessage,
    RunMessage,
    ScheduledSyncEvent,
    SweepEvent,
    is_http_event,
    is_scheduled_envelope,
)
from invsync_dev.local import sample_events

ROOT = Path(__file__).resolve().parents[2]


def test_committed_events_match_the_generator() -> None:
    for name, event in sample_events.events().items():
        assert json.loads((ROOT / "events" / name).read_text()) == event, f"regenerate events/{name}"
    env = json.loads((ROOT / "env.json").read_text())
    assert set(env) == {"DispatchFunction", "RunSyncFunction", "FinalizeFunction", "MigrateFunction"}
    assert env == sample_events.default_env_json(), "regenerate env.json"


def _stack_env(tmp_path: Path, database_url: str) -> dict:
    from invsync_dev.local.stack import LocalStack

    stack = LocalStack(tmp_path)
    stack.env = {"DATABASE_URL": database_url, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
                 "GRAPH_BASE_URL": "http://127.0.0.1:8765",
                 "RUN_QUEUE_URL": "http://127.0.0.1:4566/123456789012/RunQueue",
                 "FINALIZE_QUEUE_URL": "http://127.0.0.1:4566/123456789012/FinalizeQueue"}
    return {"env": stack.env_json("invsync-stack"), "ports": stack.container_ports()}


def test_the_stack_writes_the_committed_env_for_its_default_ports(tmp_path: Path) -> None:
    written = _stack_env(tmp_path, "postgresql://postgres@127.0.0.1:5433/postgres")
    assert written["env"] == json.loads((ROOT / "env.json").read_text())
    assert written["ports"] == [5433, 4566, 8765]


def test_container_env_keeps_credentials_and_rewrites_only_the_host(tmp_path: Path) -> None:
    url = _stack_env(tmp_path, "postgresql://app:pw@127.0.0.1:6543/inv")["env"]["RunSyncFunction"]["DATABASE_URL"]
    assert url == "postgresql://app:pw@invsync-stack:6543/inv"
    written = _stack_env(tmp_path, "host=127.0.0.1 port=7001 dbname=t user=postgres")
    assert "host=invsync-stack" in written["env"]["DispatchFunction"]["DATABASE_URL"]
    assert "port=7001" in written["env"]["DispatchFunction"]["DATABASE_URL"]
    assert written["ports"] == [7001, 4566, 8765]
    with pytest.raises(RuntimeError, match="loopback services only"):
        _stack_env(tmp_path, "postgresql://db.internal:5432/x")


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
