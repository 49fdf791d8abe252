-- What changed: one row per item added, changed, deleted or restored by a run (names fixed by the design).
CREATE TABLE inventory_item_changes (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- no foreign keys: a per-row check on every change row slows a tenant's first sync (all of it "added"),
    -- and pruning old change rows must never wait on them
    tenant_id               bigint NOT NULL,
    inventory_sync_run_id   bigint NOT NULL,
    inventory_item_id       bigint NOT NULL,
    policy_type             text NOT NULL,
    external_id             text NOT NULL,
    display_name            text,
    change                  text NOT NULL CHECK (change IN ('added', 'changed', 'deleted', 'restored')),
    previous_hash           char(64),
    new_hash                char(64),
    -- RFC 6902 JSON Patch from the previous configuration to the new one (changed only)
    diff                    jsonb CHECK (diff IS NULL OR jsonb_typeof(diff) = 'array'),
    -- dependency links added and removed by this change: {"added": [...], "removed": [...]}
    links_diff              jsonb,
    recorded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_item_changes_run_idx ON inventory_item_changes (tenant_id, inventory_sync_run_id, id);
CREATE INDEX inventory_item_changes_item_idx ON inventory_item_changes (inventory_item_id, id DESC);
-- pruning walks the primary key from the oldest row: ids grow with time, so no index on recorded_at

ALTER TABLE inventory_sync_runs
    ADD COLUMN items_added_count integer NOT NULL DEFAULT 0 CHECK (items_added_count >= 0),
    ADD COLUMN items_changed_count integer NOT NULL DEFAULT 0 CHECK (items_changed_count >= 0),
    ADD COLUMN items_restored_count integer NOT NULL DEFAULT 0 CHECK (items_restored_count >= 0);
