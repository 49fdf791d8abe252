"""The bulk write path's shortcuts against a real PostgreSQL: objects stored exactly as listed are only
sighted, new ones go straight in, and a new object another sync inserted meanwhile falls back to the
upsert without losing or doubling anything."""

from __future__ import annotations

import psycopg
import pytest

from inventory_sync.db import item_writer
from inventory_sync.domain.items import to_record
from inventory_sync.domain.registry import BY_KEY
from tests.support import factories

PTYPE = BY_KEY["deviceCategory"]


def _records(names: dict[str, str]) -> list:
    return [to_record(PTYPE, {"id": ext, "displayName": name}) for ext, name in names.items()]


def _write(database_url: str, tenant_id: int, run_id: int, records: list) -> dict:
    with psycopg.connect(database_url) as conn:
        written = item_writer.write(conn, tenant_id, run_id, records)
    return {k: (v.observed, v.upserted) for k, v in written.items()}


def test_sightings_new_rows_and_changes(database_url: str, db: psycopg.Connection) -> None:
    tenant = factories.tenant(db)
    first, second = factories.sync_run(db, tenant.id), factories.sync_run(db, tenant.id)
    assert _write(database_url, tenant.id, first, _records({"a": "A", "b": "B"})) == {"deviceCategory": (2, 2)}
    # a: unchanged (sighted only), b: renamed (changed), c: new
    assert _write(database_url, tenant.id, second, _records({"a": "A", "b": "B2", "c": "C"})) == {
        "deviceCategory": (3, 2)}
    rows = db.execute("SELECT external_id, display_name, last_seen_run_id FROM inventory_items ORDER BY 1").fetchall()
    assert rows == [("a", "A", second), ("b", "B2", second), ("c", "C", second)]
    changes = db.execute("SELECT external_id, change, inventory_sync_run_id FROM inventory_item_changes"
                         " ORDER BY inventory_sync_run_id, external_id").fetchall()
    assert changes == [("a", "added", first), ("b", "added", first), ("b", "changed", second),
                       ("c", "added", second)]


def test_a_new_object_inserted_meanwhile_falls_back_to_the_upsert(database_url: str, db: psycopg.Connection,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = factories.tenant(db)
    other, ours = factories.sync_run(db, tenant.id), factories.sync_run(db, tenant.id)
    _write(database_url, tenant.id, other, _records({"x": "X by the other sync"}))
    real = item_writer._split_unchanged

    def stale_look_up(cur, tenant_id, records):  # as if the look-up ran just before the other sync's commit
        unchanged, rest, _ = real(cur, tenant_id, records)
        return unchanged, rest, {}

    monkeypatch.setattr(item_writer, "_split_unchanged", stale_look_up)
    assert _write(database_url, tenant.id, ours, _records({"x": "X", "y": "Y"})) == {"deviceCategory": (2, 2)}
    rows = db.execute("SELECT external_id, display_name, last_seen_run_id FROM inventory_items ORDER BY 1").fetchall()
    assert rows == [("x", "X", ours), ("y", "Y", ours)]
    kinds = db.execute("SELECT external_id, change FROM inventory_item_changes WHERE inventory_sync_run_id = %s"
                       " ORDER BY 1", (ours,)).fetchall()
    assert kinds == [("x", "changed"), ("y", "added")]
