-- What an operator asks of the console (architecture.md §10).

-- Change rows keep the values they replace: their JSON Patch holds a `test` operation with the earlier value
-- before each replace, remove and move. Rows written before that have none; they say so (false).
ALTER TABLE inventory_item_changes
    ADD COLUMN previous_values_recorded boolean NOT NULL DEFAULT false;

-- The Graph application permissions a tenant's app lacks, as the latest permission check or finished run
-- found them: the API answers from here in any execution environment (the check's own cache is per process).
CREATE TABLE tenant_missing_permissions (
    tenant_id            bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    missing_permissions  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(missing_permissions) = 'array'),
    source               text NOT NULL CHECK (source IN ('permission_check', 'run')),
    inventory_sync_run_id bigint,
    observed_at          timestamptz NOT NULL
);

-- Live items per tenant, counted when a run is finalized (items change only in runs): the overview of many
-- tenants reads one row each instead of counting every tenant's inventory on every request.
CREATE TABLE tenant_item_counts (
    tenant_id   bigint PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    live_items  bigint NOT NULL CHECK (live_items >= 0),
    counted_at  timestamptz NOT NULL
);
INSERT INTO tenant_item_counts (tenant_id, live_items, counted_at)
SELECT tenant_id, count(*), now() FROM inventory_items WHERE deleted_at IS NULL GROUP BY tenant_id;
