-- Overlapping syncs of one tenant (docs/decisions/0008): each item remembers when the Graph read that
-- it is stored from began, on the database's clock. A write from an earlier read never replaces a later
-- one (configuration, hash, links, change row), and a listing marks deleted only what no sync has seen
-- since it began. NULL: stored before this migration (older than any read).
ALTER TABLE inventory_items ADD COLUMN read_at timestamptz;
