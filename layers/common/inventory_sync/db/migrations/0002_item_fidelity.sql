-- Inventory fidelity: content_hash now covers an object's configuration only; its assignments are
-- hashed apart (assignments_hash, NULL until a sync reads them) and payload_hash says whether the stored
-- payload (noise included, assignments excluded) needs a refresh without counting as a change.
ALTER TABLE inventory_items
    ADD COLUMN assignments_hash char(64),
    ADD COLUMN payload_hash char(64);

-- Links: the same target can be linked more than once (an app assigned to a group as required and as
-- available; directly and through a policy set), so what tells such links apart is part of the identity.
-- Policy sets link to their members.
ALTER TABLE inventory_links
    ADD COLUMN link_key text NOT NULL DEFAULT '',
    DROP CONSTRAINT inventory_links_item_id_link_type_target_type_target_id_key,
    DROP CONSTRAINT inventory_links_link_type_check,
    ADD CONSTRAINT inventory_links_link_type_check
        CHECK (link_type IN ('assignment', 'assignment_filter', 'scope_tag', 'policy_set_item')),
    ADD CONSTRAINT inventory_links_identity UNIQUE (item_id, link_type, target_type, target_id, link_key);
