-- The order rule of realtime.md: every resource that event frames describe
-- carries a version, bumped in the transaction of each change while its row
-- is locked, so frames about one resource can be ordered by it. The outbox
-- keeps the resource and version of each frame for the relay and the workers.
-- +goose Up
ALTER TABLE delivery_quotes ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE delivery_offers ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE deliveries ADD COLUMN version integer NOT NULL DEFAULT 1;
-- A driver's person_stats frames: bumped when one of their deliveries is completed.
ALTER TABLE users ADD COLUMN stats_version integer NOT NULL DEFAULT 0;
ALTER TABLE outbox_events ADD COLUMN resource text NOT NULL DEFAULT '';
ALTER TABLE outbox_events ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE outbox_events ADD COLUMN final boolean NOT NULL DEFAULT 0;
-- The relay looks for a newer frame of the same resource to the same group.
CREATE INDEX outbox_events_resource_idx ON outbox_events (resource, group_name, version) WHERE resource <> '';

-- +goose Down
DROP INDEX outbox_events_resource_idx;
ALTER TABLE outbox_events DROP COLUMN final;
ALTER TABLE outbox_events DROP COLUMN version;
ALTER TABLE outbox_events DROP COLUMN resource;
ALTER TABLE users DROP COLUMN stats_version;
ALTER TABLE deliveries DROP COLUMN version;
ALTER TABLE delivery_offers DROP COLUMN version;
ALTER TABLE delivery_quotes DROP COLUMN version;
