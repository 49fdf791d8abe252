-- Inventory Sync: initial schema (DESIGN §3). Names of the seed tables and fields are fixed.

CREATE TABLE tenants (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    graph_tenant_id         text NOT NULL CHECK (length(graph_tenant_id) BETWEEN 1 AND 255),
    graph_client_id         text NOT NULL CHECK (length(graph_client_id) BETWEEN 1 AND 255),
    status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    scheduled_sync_enabled  boolean NOT NULL DEFAULT true,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_scheduled_idx ON tenants (id) WHERE status = 'active' AND scheduled_sync_enabled;

CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject     text NOT NULL UNIQUE CHECK (length(subject) BETWEEN 1 AND 255),
    email       text,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_memberships (
    tenant_id   bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'operator', 'reader')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_memberships_user_idx ON tenant_memberships (user_id);

-- Immutable audit trail: the trigger below rejects UPDATE, DELETE and TRUNCATE for every role.
CREATE TABLE audit_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint REFERENCES tenants (id),
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'system')),
    actor_id        bigint REFERENCES users (id),
    actor_email     text,
    actor_name      text,
    action          text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
    resource_type   text NOT NULL,
    resource_id     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('success', 'failure')),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    correlation_id  text,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (actor_type = 'user' OR actor_id IS NULL)
);
CREATE INDEX audit_logs_tenant_action_idx ON audit_logs (tenant_id, action, id DESC);
CREATE INDEX audit_logs_tenant_resource_idx ON audit_logs (tenant_id, resource_type, resource_id, id DESC);
CREATE INDEX audit_logs_tenant_id_idx ON audit_logs (tenant_id, id DESC);
-- Exactly one terminal event per dispatch, enforced by the database (DESIGN §4).
CREATE UNIQUE INDEX audit_logs_one_terminal_per_bulk_operation
    ON audit_logs ((metadata ->> 'bulk_operation_run_id'))
    WHERE action IN ('inventory.sync.completed', 'inventory.sync.failed',
                     'inventory.sync.skipped', 'inventory.sync.aborted');

CREATE FUNCTION audit_logs_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_logs_immutable_rows
    BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_reject_change();
CREATE TRIGGER audit_logs_immutable_truncate
    BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_reject_change();

CREATE TABLE bulk_operation_runs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           bigint NOT NULL REFERENCES tenants (id),
    user_id             bigint REFERENCES users (id),
    resource            text NOT NULL,
    action              text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'completed', 'completed_with_errors',
                                          'failed', 'aborted')),
    total_items         integer NOT NULL DEFAULT 1 CHECK (total_items >= 0),
    processed_items     integer NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    succeeded           integer NOT NULL DEFAULT 0 CHECK (succeeded >= 0),
    failed              integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
    skipped             integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    item_ids            jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(item_ids) = 'array'),
    audit_log_id        bigint REFERENCES audit_logs (id),
    -- additions: what was dispatched, for redelivery, cancellation and the scheduler's de-duplication
    selection_hash      char(64) CHECK (selection_hash ~ '^[0-9a-f]{64}$'),
    trigger             text CHECK (trigger IN ('api', 'schedule')),
    correlation_id      text,
    cancel_requested_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    CHECK (processed_items <= total_items),
    CHECK (succeeded + failed + skipped = processed_items),
    CHECK ((status IN ('pending', 'running')) = (finished_at IS NULL))
);
CREATE INDEX bulk_operation_runs_user_active_idx ON bulk_operation_runs (user_id, id DESC)
    WHERE status IN ('pending', 'running');
CREATE INDEX bulk_operation_runs_tenant_active_idx ON bulk_operation_runs (tenant_id, selection_hash)
    WHERE status IN ('pending', 'running');
CREATE INDEX bulk_operation_runs_user_idx ON bulk_operation_runs (user_id, id DESC);
-- Two scheduler invocations racing (EventBridge retries) cannot both dispatch a tenant.
CREATE UNIQUE INDEX bulk_operation_runs_one_active_schedule
    ON bulk_operation_runs (tenant_id, selection_hash)
    WHERE trigger = 'schedule' AND status IN ('pending', 'running');

CREATE TABLE inventory_sync_runs (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id               bigint NOT NULL REFERENCES tenants (id),
    user_id                 bigint REFERENCES users (id),
    -- one run per dispatch: a redelivery can never create a second one
    bulk_operation_run_id   bigint NOT NULL UNIQUE REFERENCES bulk_operation_runs (id),
    selection_hash          char(64) NOT NULL CHECK (selection_hash ~ '^[0-9a-f]{64}$'),
    selection_payload       jsonb NOT NULL CHECK (jsonb_typeof(selection_payload) = 'object'),
    status                  text NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'success', 'partial', 'failed', 'skipped')),
    had_errors              boolean NOT NULL DEFAULT false,
    error_codes             jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(error_codes) = 'array'),
    error_context           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(error_context) = 'object'),
    started_at              timestamptz NOT NULL DEFAULT now(),
    finished_at             timestamptz,
    items_observed_count    integer NOT NULL DEFAULT 0 CHECK (items_observed_count >= 0),
    items_upserted_count    integer NOT NULL DEFAULT 0 CHECK (items_upserted_count >= 0),
    errors_count            integer NOT NULL DEFAULT 0 CHECK (errors_count >= 0),
    -- additions
    items_deleted_count     integer NOT NULL DEFAULT 0 CHECK (items_deleted_count >= 0),
    attempts                integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    progress                jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(progress) = 'object'),
    trigger                 text CHECK (trigger IN ('api', 'schedule')),
    correlation_id          text,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX inventory_sync_runs_tenant_time_idx ON inventory_sync_runs (tenant_id, id DESC);
CREATE INDEX inventory_sync_runs_tenant_status_idx ON inventory_sync_runs (tenant_id, status, id DESC);
CREATE INDEX inventory_sync_runs_running_idx ON inventory_sync_runs (id) WHERE status = 'running';

-- State machines (DESIGN §4), enforced by the database as well as by the domain layer.
CREATE FUNCTION inventory_sync_runs_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND OLD.status <> 'running' THEN
        RAISE EXCEPTION 'inventory_sync_runs %: % is terminal, cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER inventory_sync_runs_transition
    BEFORE UPDATE OF status ON inventory_sync_runs
    FOR EACH ROW EXECUTE FUNCTION inventory_sync_runs_check_transition();

CREATE FUNCTION bulk_operation_runs_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('running', 'aborted', 'failed'))
        OR (OLD.status = 'running' AND NEW.status IN ('completed', 'completed_with_errors', 'failed', 'aborted'))
    ) THEN
        RAISE EXCEPTION 'bulk_operation_runs %: % cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER bulk_operation_runs_transition
    BEFORE UPDATE OF status ON bulk_operation_runs
    FOR EACH ROW EXECUTE FUNCTION bulk_operation_runs_check_transition();

CREATE TABLE inventory_items (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           bigint NOT NULL REFERENCES tenants (id),
    policy_type         text NOT NULL,
    external_id         text NOT NULL,
    display_name        text,
    category            text,
    platform            text,
    payload             jsonb NOT NULL,
    content_hash        char(64) NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    -- informational, no foreign key: a per-row FK check on every sighting would halve the write path
    last_seen_run_id    bigint,
    deleted_at          timestamptz,
    UNIQUE (tenant_id, policy_type, external_id)
);
CREATE INDEX inventory_items_tenant_type_idx ON inventory_items (tenant_id, policy_type, id);

CREATE TABLE inventory_links (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint NOT NULL,  -- the item's tenant (denormalised for lookups; the item FK covers it)
    item_id         bigint NOT NULL REFERENCES inventory_items (id) ON DELETE CASCADE,
    link_type       text NOT NULL CHECK (link_type IN ('assignment', 'assignment_filter', 'scope_tag')),
    target_type     text NOT NULL,
    target_id       text NOT NULL DEFAULT '',
    properties      jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (item_id, link_type, target_type, target_id)
);
CREATE INDEX inventory_links_target_idx ON inventory_links (tenant_id, target_type, target_id);

-- Idempotency-Key: the first response to a (user, tenant, key) is replayed for retries.
CREATE TABLE idempotency_keys (
    user_id                 bigint NOT NULL REFERENCES users (id),
    tenant_id               bigint NOT NULL REFERENCES tenants (id),
    key                     text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash            char(64) NOT NULL,
    bulk_operation_run_id   bigint NOT NULL REFERENCES bulk_operation_runs (id),
    response                jsonb NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tenant_id, key)
);
