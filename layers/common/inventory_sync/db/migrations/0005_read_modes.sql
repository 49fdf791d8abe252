-- Read modes (incremental reads): whether a run read every object below its listing in full, or only those
-- whose change markers moved. The markers themselves are the listed fields the stored payload already holds.
ALTER TABLE inventory_sync_runs
    ADD COLUMN read_mode text NOT NULL DEFAULT 'full' CHECK (read_mode IN ('full', 'incremental'));
-- the tenant's latest full read of a selection decides whether the next run must read in full
CREATE INDEX inventory_sync_runs_full_reads_idx ON inventory_sync_runs (tenant_id, selection_hash, started_at DESC)
    WHERE read_mode = 'full' AND status IN ('success', 'partial');
