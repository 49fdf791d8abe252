-- A directory is onboarded once: two tenants on one directory (one holding a wrong or guessed secret) would
-- read the same Intune data. New tenants are refused (409) when their directory is taken; this index keeps
-- two active tenants off one directory even when two onboardings race.
--
-- Tenants onboarded before this rule onto a directory an older active tenant holds are made inactive (the
-- older keeps syncing); each change writes its audit event, as every change to a tenant does.
WITH later AS (
    SELECT t.id, min(o.id) AS kept
      FROM tenants t
      JOIN tenants o ON lower(o.graph_tenant_id) = lower(t.graph_tenant_id) AND o.status = 'active' AND o.id < t.id
     WHERE t.status = 'active'
     GROUP BY t.id
), deactivated AS (
    UPDATE tenants t SET status = 'inactive', updated_at = now() FROM later WHERE t.id = later.id
    RETURNING t.id, later.kept
)
INSERT INTO audit_logs (tenant_id, actor_type, action, resource_type, resource_id, status, metadata)
SELECT id, 'system', 'tenant.updated', 'tenant', id::text, 'success',
       jsonb_build_object('changes', jsonb_build_object('status', jsonb_build_object('from', 'active',
                                                                                     'to', 'inactive')),
                          'reason', 'directory already onboarded', 'directory_tenant_id', kept)
  FROM deactivated;

CREATE UNIQUE INDEX tenants_active_directory_key ON tenants (lower(graph_tenant_id)) WHERE status = 'active';
